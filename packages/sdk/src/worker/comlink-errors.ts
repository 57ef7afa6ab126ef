/**
 * Makes thrown errors cross the worker boundary with their class intact: Comlink's default "throw"
 * handler keeps only name, message and stack, so the page could not tell a QuotaExceededError from
 * any other. Installed on both sides.
 */
import { transferHandlers, type TransferHandler } from 'comlink';
import { deserializeError, serializeError, type SerializedError } from '../errors.js';

interface Thrown {
  value: unknown;
}

export function installErrorTransfer(): void {
  const handler: TransferHandler<Thrown, SerializedError> = {
    canHandle: (value): value is Thrown => typeof value === 'object' && value !== null && 'value' in value && (value as { [key: symbol]: unknown })[Symbol.for('Comlink.thrown')] === true,
    serialize: (thrown) => [serializeError(thrown.value), []],
    deserialize: (serialized) => {
      throw deserializeError(serialized);
    },
  };
  const builtin = transferHandlers.get('throw') as TransferHandler<Thrown, unknown> | undefined;
  transferHandlers.set('throw', {
    canHandle: builtin?.canHandle ?? handler.canHandle,
    serialize: handler.serialize,
    deserialize: handler.deserialize,
  } as TransferHandler<unknown, unknown>);
}
