/**
 * `npm run openapi`: writes the OpenAPI document of the service on the default model (the configuration's
 * default name and version) to `service/openapi.json`, so API changes show in diffs.
 * `npm run openapi:check` (CI): fails when the committed file differs from what the code generates.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { DEFAULT_MODEL_DIR, SERVICE_DIR, loadConfig } from '../config';
import { readModelFiles } from '../model/format';
import { openApiDocument, serializeOpenApi } from './openapi';

/** The committed document. */
export const OPENAPI_FILE = resolve(SERVICE_DIR, 'openapi.json');

async function main(check: boolean): Promise<number> {
  const config = loadConfig({});
  const files = await readModelFiles(DEFAULT_MODEL_DIR);
  const text = serializeOpenApi(
    openApiDocument({ name: config.modelName, version: config.modelVersion, metadata: files.metadata }),
  );
  const shown = relative(process.cwd(), OPENAPI_FILE) || OPENAPI_FILE;
  if (!check) {
    writeFileSync(OPENAPI_FILE, text);
    console.log(`wrote ${shown}`);
    return 0;
  }
  let committed = '';
  try {
    committed = readFileSync(OPENAPI_FILE, 'utf8');
  } catch {
    committed = ''; // a missing file is stale too
  }
  if (committed !== text) {
    console.error(
      `openapi:check failed: ${shown} differs from what the service's schemas generate.\n` +
        'Run `npm run openapi` and commit the result (never edit it by hand).',
    );
    return 1;
  }
  console.log(`openapi:check: ${shown} is up to date`);
  return 0;
}

main(process.argv.includes('--check')).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`openapi failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
