import { AppError } from './errors';

/** Bytes of request bodies held in memory at once, shared by every request of one app. */
export class BodyBudget {
  private used = 0;

  constructor(private readonly maxBytes: number) {}

  /**
   * One request's account: `reserve` adds a received chunk or throws 503 `overloaded` when the budget
   * would be exceeded; `close` gives the request's bytes back (later reservations are ignored).
   */
  open(): { reserve: (bytes: number) => void; close: () => void } {
    let held = 0;
    let closed = false;
    return {
      reserve: (bytes) => {
        if (closed) return;
        if (this.used + bytes > this.maxBytes) {
          throw new AppError(
            503,
            'overloaded',
            'too many request bodies are held in memory (MAX_BUFFERED_BODY_BYTES): retry shortly',
            { 'Retry-After': '1', Connection: 'close' },
          );
        }
        this.used += bytes;
        held += bytes;
      },
      close: () => {
        closed = true;
        this.used -= held;
        held = 0;
      },
    };
  }
}
