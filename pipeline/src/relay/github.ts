import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

/** Fields of the `client_payload` that promote.yml reads (`github.event.client_payload.<field>`). */
export const PROMOTION_PAYLOAD_FIELDS = ['environment', 'model', 'version', 'alias', 'delivery_id'] as const;

/** `client_payload` of the `model-promotion` repository_dispatch event; every value is a string. */
export type PromotionPayload = Readonly<Record<(typeof PROMOTION_PAYLOAD_FIELDS)[number], string>>;

/** The `event_type` promote.yml listens for. */
export const PROMOTION_EVENT_TYPE = 'model-promotion';

/** Sends one promotion to GitHub; resolves with the number of attempts it took. */
export type PromotionDispatcher = (payload: PromotionPayload) => Promise<{ attempts: number }>;

/** GitHub did not accept the dispatch; `status` is GitHub's last answer, absent on network errors. */
export class DispatchError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DispatchError';
  }
}

/** Options of {@link createGitHubDispatcher}. */
export interface GitHubDispatcherOptions {
  /** API base URL without trailing slash, e.g. `https://api.github.com`. */
  readonly apiUrl: string;
  /** `owner/name`. */
  readonly repository: string;
  /** Bearer token; only ever placed in the Authorization header. */
  readonly token: string;
  /** Attempts including the first; retried on network errors, timeouts, 429 and 5xx. */
  readonly attempts: number;
  /** Time limit per attempt. */
  readonly timeoutMs: number;
  /** Delay before the first retry; doubles each time. */
  readonly backoffMs: number;
  readonly logger: Logger;
}

/** Builds a dispatcher for `POST /repos/{owner}/{repo}/dispatches`. */
export function createGitHubDispatcher(options: GitHubDispatcherOptions): PromotionDispatcher {
  const url = `${options.apiUrl}/repos/${options.repository}/dispatches`;
  return async (payload) => {
    const body = JSON.stringify({ event_type: PROMOTION_EVENT_TYPE, client_payload: payload });
    let last = '';
    let lastStatus: number | undefined;
    for (let attempt = 1; attempt <= options.attempts; attempt++) {
      if (attempt > 1) await sleep(options.backoffMs * 2 ** (attempt - 2));
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: {
            accept: 'application/vnd.github+json',
            authorization: `Bearer ${options.token}`,
            'content-type': 'application/json',
            'user-agent': 'model-gitops-relay',
            'x-github-api-version': '2022-11-28',
          },
          body,
          signal: AbortSignal.timeout(options.timeoutMs),
          redirect: 'error',
        });
      } catch (err) {
        last = `network error: ${(err as Error).name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : (err as Error).message}`;
        lastStatus = undefined;
        options.logger.warn(
          { attempt, reason: last, delivery_id: payload.delivery_id },
          'dispatch attempt failed',
        );
        continue;
      }
      const text = await readSnippet(response);
      if (response.ok) return { attempts: attempt };
      lastStatus = response.status;
      last = `GitHub answered ${response.status}${text ? `: ${text}` : ''}`;
      options.logger.warn(
        { attempt, status: response.status, delivery_id: payload.delivery_id },
        'dispatch attempt failed',
      );
      if (!(response.status === 429 || response.status >= 500)) {
        throw new DispatchError(`${url}: ${last}`, attempt, response.status);
      }
    }
    throw new DispatchError(
      `${url}: ${last} (gave up after ${options.attempts} attempts)`,
      options.attempts,
      lastStatus,
    );
  };
}

/** GitHub's error `message` (or the first 200 characters of the body), for the log. */
async function readSnippet(response: Response): Promise<string> {
  let text: string;
  try {
    text = await response.text();
  } catch {
    return '';
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (
      parsed &&
      typeof parsed === 'object' &&
      typeof (parsed as { message?: unknown }).message === 'string'
    ) {
      text = (parsed as { message: string }).message;
    }
  } catch {
    // Not JSON: keep the raw text.
  }
  return text.slice(0, 200);
}
