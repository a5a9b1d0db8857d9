import { readModelFiles, type ModelFiles } from './format';
import { createValidatedSession, type OpenModel, type SessionSettings } from './loader';

/**
 * {@link readModelFiles} then {@link createValidatedSession}: the whole load-and-validate path, in process (the
 * promotion gate, the bench). Apart from `loader.ts`, which the inference workers load alone.
 */
export async function openModel(
  dir: string,
  opts: SessionSettings & { readonly expectedSha256?: string } = {},
): Promise<OpenModel & { readonly files: ModelFiles }> {
  const files = await readModelFiles(dir, { sha256: opts.expectedSha256 });
  return { files, ...(await createValidatedSession(files, opts)) };
}
