/**
 * One request at a time, in arrival order, so requests from several callers or tabs never interleave
 * inside one KV cache; each request can be cancelled while queued or running.
 */
import { AbortError } from '../errors.js';

export class RequestQueue {
  private tail: Promise<unknown> = Promise.resolve();
  /** Controllers of queued and running requests, by request id. */
  private readonly controllers = new Map<string, AbortController>();

  /** Runs `task` after every earlier task, whether those succeeded or failed. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Queues a request whose signal aborts when `cancel(id)` is called; one cancelled while queued never starts. */
  request<T>(id: string, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    // Registered before anything else can run, and messages arrive in order: an unknown id in
    // cancel() is a request that has already finished.
    const controller = new AbortController();
    this.controllers.set(id, controller);
    return this.exclusive(async () => {
      try {
        if (controller.signal.aborted) throw new AbortError();
        return await task(controller.signal);
      } finally {
        this.controllers.delete(id);
      }
    });
  }

  cancel(id: string): void {
    this.controllers.get(id)?.abort();
  }
}
