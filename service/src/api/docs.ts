/**
 * `GET /docs`: Swagger UI on `GET /openapi.json`, from the swagger-ui-dist package's own files (no CDN,
 * so the page works in a cluster without internet access). Only the files the page loads are served.
 */
import { dirname } from 'node:path';
import type { Express } from 'express';
import { AppError } from '../errors';

/** The swagger-ui-dist directory (resolved once; the package's index.js would load the whole bundle). */
const SWAGGER_UI_DIR = dirname(require.resolve('swagger-ui-dist/package.json'));

/** The package files the page uses. */
const ASSETS = new Set([
  'swagger-ui.css',
  'index.css',
  'swagger-ui-bundle.js',
  'favicon-32x32.png',
  'favicon-16x16.png',
]);

/** Relative URLs (`docs/…`, `openapi.json`), so the page also works behind a path prefix. */
const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Inference service API</title>
    <link rel="stylesheet" href="docs/swagger-ui.css" />
    <link rel="stylesheet" href="docs/index.css" />
    <link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="docs/swagger-ui-bundle.js"></script>
    <script>
      window.ui = SwaggerUIBundle({
        url: 'openapi.json',
        dom_id: '#swagger-ui',
        deepLinking: true,
        displayRequestDuration: true,
        presets: [SwaggerUIBundle.presets.apis],
        layout: 'BaseLayout',
      });
    </script>
  </body>
</html>
`;

/** Adds `GET /docs` and its assets `GET /docs/{file}` to `app`. */
export function registerDocsRoutes(app: Express): void {
  app.get('/docs', (req, res) => {
    // `/docs/` would resolve the page's relative URLs one level too deep.
    if (req.path.endsWith('/')) {
      res.redirect(301, '../docs');
      return;
    }
    res.type('html').send(PAGE);
  });

  app.get('/docs/:file', (req, res, next) => {
    const file = (req.params as { file: string }).file;
    if (!ASSETS.has(file)) throw new AppError(404, 'not_found', `no such documentation file: '${file}'`);
    res.sendFile(file, { root: SWAGGER_UI_DIR, maxAge: '1h', dotfiles: 'deny' }, (err) => {
      if (err) next(err);
    });
  });
}
