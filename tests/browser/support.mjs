// Shared set-up of the browser tests: the Chromium flags, a Vite preview server for the built
// page (www/dist/), and page probes (main-thread stalls, console errors).

import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const wwwDir = fileURLToPath(new URL('../../www/', import.meta.url));
const requireFromWww = createRequire(`${wwwDir}package.json`);
const { chromium } = requireFromWww('playwright-core');

// Chromium flags for headless runs as root on machines without a GPU. WebGPU comes from
// Chromium's bundled SwiftShader, which needs --enable-unsafe-webgpu in headless mode.
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
export const WEBGPU_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-webgpu-adapter=swiftshader',
];
// Without the flags above, headless Chromium 156 on a machine without a GPU exposes
// `navigator.gpu` but returns no adapter, and the page falls back to the CPU.
// NOTE: on a machine with a GPU that Chromium supports, it may find an adapter anyway
// (`--disable-features=WebGPU` did not hide WebGPU in Chromium 156).
export const NO_WEBGPU_ARGS = [];

// Launches headless Chromium, with WebGPU through SwiftShader when `webgpu` is set, and with
// any further flags in `args`.
export async function launchBrowser({ webgpu, args = [] }) {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(webgpu ? WEBGPU_ARGS : NO_WEBGPU_ARGS), ...args],
  });
}

// Launches headless Chromium like `launchBrowser` but with its profile in `userDataDir`, so
// IndexedDB survives from one launch to the next. Returns the browser context.
export async function launchPersistent({ webgpu, args = [], userDataDir }) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [...CHROMIUM_ARGS, ...(webgpu ? WEBGPU_ARGS : NO_WEBGPU_ARGS), ...args],
  });
}

// Serves www/dist/ with `vite preview` on a free loopback port. Returns {url, close}.
export async function startServer() {
  const { preview } = await import(pathToFileURL(requireFromWww.resolve('vite')).href);
  const server = await preview({
    root: wwwDir,
    logLevel: 'warn',
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  const url = server.resolvedUrls.local[0];
  return { url, close: () => server.close() };
}

// Collects console errors and uncaught page errors.
export function watchConsole(page) {
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  return errors;
}

// Installed before the page's scripts: counts animation frames and records main-thread tasks
// longer than 50 ms (Long Tasks API) in window.__probe.
export const MAIN_THREAD_PROBE = () => {
  const probe = { frames: 0, maxFrameGap: 0, longTasks: [] };
  window.__probe = probe;
  let last = performance.now();
  const tick = (now) => {
    probe.frames += 1;
    probe.maxFrameGap = Math.max(probe.maxFrameGap, now - last);
    last = now;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) probe.longTasks.push(entry.duration);
  }).observe({ type: 'longtask', buffered: true });
  // Long animation frames name the scripts that ran in them, to explain a long task.
  probe.longFrames = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.duration < 100) continue;
      probe.longFrames.push({
        duration: Math.round(entry.duration),
        blocking: Math.round(entry.blockingDuration),
        scripts: entry.scripts.map((s) => `${s.invoker} ${s.sourceFunctionName} ${Math.round(s.duration)} ms`),
      });
    }
  }).observe({ type: 'long-animation-frame', buffered: true });
};

export const byTestId = (id) => `[data-testid="${id}"]`;
