import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError } from './errors';

/**
 * What Node answers itself, before or instead of the app: a request it cannot parse, headers over its size
 * limit, a request not received in time. Node's own answers are bare text; these are the service's JSON
 * errors, with the same statuses. (An HTTP/1.1 request without Host is let through to the app, which
 * refuses it with the same 400 `malformed_request`: Node answers it without a `clientError`.)
 */
function clientErrorAnswer(code: string | undefined): AppError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new AppError(431, 'headers_too_large', 'the request headers are over 16 KiB');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new AppError(413, 'chunk_extensions_too_large', 'the chunk extensions are over 16 KiB');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new AppError(
        408,
        'request_timeout',
        'the request was not received in time (HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS)',
      );
    default:
      return new AppError(400, 'malformed_request', 'the request is not valid HTTP/1.1');
  }
}

/** The status each connection was answered with by {@link answerClientError}. */
const answered = new WeakMap<Duplex, number>();

/**
 * The server's `clientError` listener: answers as Node would (only on a connection that has written
 * nothing yet, else it is just closed), with a JSON body, and remembers the status for the request log.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (socket.writable && (socket as Duplex & { bytesWritten?: number }).bytesWritten === 0) {
    const answer = clientErrorAnswer(err.code);
    const body = JSON.stringify({ error: { code: answer.code, message: answer.message } });
    answered.set(socket, answer.status);
    socket.write(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * The status a request that the app never answered ended with, for logs and metrics: what
 * {@link answerClientError} sent on its connection, else 499 (the client closed the connection first, as
 * nginx logs it).
 */
export function unansweredStatus(socket: Duplex): number {
  return answered.get(socket) ?? 499;
}
