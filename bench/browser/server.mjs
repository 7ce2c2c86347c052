// Static file server for the benchmark page on 127.0.0.1: the harness files, the wasm build
// (www/pkg/), the MNIST digits (data/) and the harness's npm packages. Nothing else is served,
// and the page makes no request outside it.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoDir = fileURLToPath(new URL('../../', import.meta.url));
const harnessDir = fileURLToPath(new URL('./', import.meta.url));

// URL prefix -> folder it maps to.
const ROOTS = {
  '/bench/': harnessDir,
  '/pkg/': join(repoDir, 'www/pkg/'),
  '/data/': join(repoDir, 'data/'),
  '/node_modules/': join(harnessDir, 'node_modules/'),
};

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

// Maps a request path to a file inside one of ROOTS, or null.
function filePath(urlPath) {
  if (urlPath === '/') return join(harnessDir, 'index.html');
  for (const [prefix, dir] of Object.entries(ROOTS)) {
    if (!urlPath.startsWith(prefix)) continue;
    const path = resolve(dir, decodeURIComponent(urlPath.slice(prefix.length)));
    return path.startsWith(resolve(dir) + sep) ? path : null;
  }
  return null;
}

async function handle(request, response) {
  const path = filePath(new URL(request.url, 'http://127.0.0.1').pathname);
  const info = path && (await stat(path).catch(() => null));
  if (!info?.isFile()) {
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end(`not found: ${request.url}`);
    return;
  }
  response.writeHead(200, {
    'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
    'content-length': info.size,
    'cache-control': 'no-store',
  });
  createReadStream(path).pipe(response);
}

/**
 * Starts the server on a free loopback port.
 * @returns {Promise<{url: string, close: () => Promise<void>}>}
 */
export async function startServer() {
  const server = createServer((request, response) => {
    handle(request, response).catch((error) => {
      response.writeHead(500);
      response.end(String(error));
    });
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((done) => server.close(done)),
  };
}
