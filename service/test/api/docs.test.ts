/**
 * `/docs` in a real browser: headless Debian Chromium driven by playwright-core opens the page, uses Swagger
 * UI's own "Try it out" form to send an image to POST /predict and sees the prediction rendered. Every
 * request the page makes goes to the service itself (no CDN). DOCS_SCREENSHOT=<path> also saves the
 * screenshot there (the README's `service/docs/docs-page.png` is made that way).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import request from 'supertest';
import { readModelFiles } from '../../src/model/format';
import { noisyJpeg, startTestService, tempDir, writeTinyCnn, type TestService } from '../helpers';

/** Debian's chromium; CHROMIUM_PATH points elsewhere (GitHub's runners ship Chrome instead). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

jest.setTimeout(90_000);

let tmp: ReturnType<typeof tempDir>;
let svc: TestService;
let profile: string;
let browser: BrowserContext;

beforeAll(async () => {
  tmp = tempDir();
  writeTinyCnn(tmp.dir);
  svc = await startTestService(await readModelFiles(tmp.dir));
});

afterAll(async () => {
  await svc?.close();
  tmp?.cleanup();
});

describe('the docs routes', () => {
  test("GET /docs is the Swagger UI page on this service's own files and document", async () => {
    const res = await request(svc.server).get('/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('<script src="docs/swagger-ui-bundle.js"></script>');
    expect(res.text).toContain("url: 'openapi.json'");
    expect(res.text).not.toMatch(/https?:\/\//); // nothing from elsewhere
    const bundle = await request(svc.server).get('/docs/swagger-ui-bundle.js');
    expect(bundle.status).toBe(200);
    expect(bundle.headers['content-type']).toMatch(/javascript/);
    expect(bundle.body.length ?? bundle.text.length).toBeGreaterThan(100_000);
  });

  test('GET /docs/ redirects to /docs, where the relative URLs resolve', async () => {
    const res = await request(svc.server).get('/docs/');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('../docs');
  });

  test.each(['package.json', 'index.html', '..%2Fpackage.json', 'swagger-initializer.js', '%E0%A4%A'])(
    'fails when the file is not one the page loads: GET /docs/%s is 404',
    async (file) => {
      const res = await request(svc.server).get(`/docs/${file}`);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    },
  );
});

describe('in headless Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} not found: the /docs browser test needs Debian's chromium: ` +
          'apt-get update && apt-get install -y chromium (.ci/run installs it)',
      );
    }
    profile = mkdtempSync(join(tmpdir(), 'docs-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 1400 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // Chromium resolves accounts.google.com and others on its own (the flags above leave some of it): no
        // name resolves, so the browser reaches 127.0.0.1 only, as a network test must.
        '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test('the docs page sends an image through its own "Try it out" form and renders the prediction', async () => {
    const image = join(tmp.dir, 'cat.jpg');
    writeFileSync(image, await noisyJpeg(160, 120, 3));
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));

    const loaded = await page.goto(`${svc.url}/docs`);
    expect(loaded?.status()).toBe(200);
    const predict = page.locator('#operations-Service-predict');
    await predict.locator('.opblock-summary').click();
    await predict.getByRole('button', { name: 'Try it out' }).click();
    // The first documented request body type, image/jpeg, gives a file input.
    await expect(predict.locator('.body-param-content-type select').inputValue()).resolves.toBe('image/jpeg');
    await predict.locator('input[type=file]').setInputFiles(image);
    await predict.getByRole('button', { name: 'Execute' }).click();

    const body = predict.locator('.live-responses-table .response .highlight-code').first();
    await body.waitFor({ timeout: 30_000 });
    const status = await predict
      .locator('.live-responses-table .response .response-col_status')
      .first()
      .innerText();
    expect(status.trim()).toBe('200');
    const rendered = JSON.parse(await body.locator('code').first().innerText()) as {
      model: { name: string };
      predictions: { label: string; score: number; topK: unknown[] }[];
    };
    expect(rendered.model.name).toBe('tiny');
    expect(['cat', 'dog']).toContain(rendered.predictions[0]?.label);
    expect(rendered.predictions[0]?.topK).toHaveLength(2);

    // Everything came from the service: the page, Swagger UI's files, the document, the prediction.
    expect(requested.filter((url) => !url.startsWith(`${svc.url}/`))).toEqual([]);
    expect(requested).toEqual(
      expect.arrayContaining([
        `${svc.url}/docs/swagger-ui-bundle.js`,
        `${svc.url}/openapi.json`,
        `${svc.url}/predict`,
      ]),
    );

    // From the operation's header down to the rendered answer.
    const top = await predict.boundingBox();
    const answer = await predict.locator('.live-responses-table').first().boundingBox();
    if (!top || !answer) throw new Error('the operation or its answer is not rendered');
    const shot = await page.screenshot({
      fullPage: true,
      clip: { x: 0, y: top.y, width: 1280, height: answer.y + answer.height - top.y + 8 },
    });
    expect(shot.subarray(1, 4).toString('latin1')).toBe('PNG');
    if (process.env.DOCS_SCREENSHOT) writeFileSync(resolve(process.env.DOCS_SCREENSHOT), shot);
  });
});
