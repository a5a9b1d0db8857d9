/**
 * Turns an `mlflow-artifacts:` URI into the path the artifact proxy serves it under
 * (`/api/2.0/mlflow-artifacts/artifacts/<path>`). Both `mlflow-artifacts:/1/<run>/artifacts/model` and the
 * host-qualified `mlflow-artifacts://host:5000/1/<run>/artifacts/model` are accepted.
 */
export function artifactProxyPath(uri: string): string {
  const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/+(.*)$/.exec(uri);
  if (!match) {
    throw new Error(`'${uri}' is not an mlflow-artifacts: URI`);
  }
  const path = match[1].replace(/\/+$/, '');
  if (path.split('/').some((segment) => segment === '..' || segment === '.')) {
    throw new Error(`artifact URI '${uri}' contains '.' or '..' segments`);
  }
  return path;
}

/** Percent-encodes each segment of an artifact path for use in a URL path. */
export function encodeArtifactPath(path: string): string {
  return path
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}
