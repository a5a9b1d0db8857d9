import fs from 'node:fs';

/**
 * Records the directories `fs.mkdtempSync` creates while `run` runs (the code under test calls it through the
 * shared `node:fs` module), so a test can check that they are gone afterwards. `run` handles its own
 * expected errors. `os.tmpdir()` cannot be
 * redirected instead: inside Jest, `process.env` is a copy.
 */
export async function tempDirsCreatedBy(run: () => Promise<unknown>): Promise<string[]> {
  const created: string[] = [];
  const original = fs.mkdtempSync;
  const spy = jest.spyOn(fs, 'mkdtempSync').mockImplementation((prefix, options) => {
    const dir = original(prefix, options as fs.EncodingOption);
    created.push(String(dir));
    return dir;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return created;
}
