/**
 * Makes thrown errors cross the worker boundary with their class intact: Comlink's default "throw"
 * handler keeps only name, message and stack, so the page could not tell a QuotaExceededError from
 * any other. Installed on both sides; installing twice is harmless.
 */
import { transferHandlers, type TransferHandler } from 'comlink';
import { deserializeError, serializeError, type SerializedError } from '../errors.js';

interface Thrown {
  value: unknown;
}

export function installErrorTransfer(): void {
  // Comlink marks thrown values with a private symbol, so only its own handler can recognise them:
  // keep its canHandle and replace how the error is carried.
  const builtin = transferHandlers.get('throw') as TransferHandler<Thrown, unknown> | undefined;
  if (!builtin) throw new Error('comlink has no "throw" transfer handler to extend');
  const handler: TransferHandler<Thrown, SerializedError> = {
    canHandle: builtin.canHandle,
    serialize: (thrown) => [serializeError(thrown.value), []],
    deserialize: (serialized) => {
      throw deserializeError(serialized);
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
}
