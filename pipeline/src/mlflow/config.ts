import { z } from 'zod';

/** How to reach and authenticate to an MLflow tracking server. */
export interface MlflowConnection {
  /** Base URL without credentials, e.g. `http://mlflow:5000` (no trailing slash). */
  readonly baseUrl: string;
  /** Value of the Authorization header, or undefined for none. Never logged. */
  readonly authorization?: string;
}

const EnvSchema = z.object({
  MLFLOW_TRACKING_URI: z
    .string({ error: 'is not set: export MLFLOW_TRACKING_URI=http(s)://<mlflow-host>:<port>' })
    .min(1, 'is empty: export MLFLOW_TRACKING_URI=http(s)://<mlflow-host>:<port>'),
  MLFLOW_TRACKING_TOKEN: z.string().optional(),
  MLFLOW_TRACKING_USERNAME: z.string().optional(),
  MLFLOW_TRACKING_PASSWORD: z.string().optional(),
});

/**
 * Reads MLflow's own environment variables: MLFLOW_TRACKING_URI, then MLFLOW_TRACKING_TOKEN (bearer) or
 * MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD (basic). Credentials embedded in the URI
 * (`https://user:pass@host`) are moved to basic auth. Errors name the variable and the fix.
 */
export function mlflowConnectionFromEnv(env: NodeJS.ProcessEnv = process.env): MlflowConnection {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${String(issue.path[0])} ${issue.message}`);
  }
  const e = parsed.data;
  let url: URL;
  try {
    url = new URL(e.MLFLOW_TRACKING_URI);
  } catch {
    throw new Error(
      `MLFLOW_TRACKING_URI is not a URL: set it to http(s)://<mlflow-host>:<port> (the MLflow tracking server)`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(
      `MLFLOW_TRACKING_URI must be an http(s) URL of a tracking server (got scheme '${url.protocol}'); ` +
        'file and database stores are not supported here',
    );
  }
  // Empty values count as unset: CI systems export unset secrets as empty strings.
  let username = e.MLFLOW_TRACKING_USERNAME || undefined;
  let password = e.MLFLOW_TRACKING_PASSWORD || undefined;
  if (url.username) {
    username ??= decodeURIComponent(url.username);
    password ??= decodeURIComponent(url.password) || undefined;
    url.username = '';
    url.password = '';
  }
  let authorization: string | undefined;
  if (e.MLFLOW_TRACKING_TOKEN) {
    authorization = `Bearer ${e.MLFLOW_TRACKING_TOKEN}`;
  } else if (username !== undefined || password !== undefined) {
    if (!username || !password) {
      throw new Error(
        'MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD must be set together (or use MLFLOW_TRACKING_TOKEN)',
      );
    }
    authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  return { baseUrl: url.toString().replace(/\/+$/, ''), authorization };
}
