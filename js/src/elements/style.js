// Shadow-root styles as constructable stylesheets: they apply under a Content Security Policy
// without 'unsafe-inline' for styles, unlike <style> elements.

/** Returns a CSSStyleSheet with `css`. */
export function sheet(css) {
  const result = new CSSStyleSheet();
  result.replaceSync(css);
  return result;
}

export const BASE = sheet(`
  :host { display: block; font: 14px/1.4 system-ui, sans-serif; color: #111827; border: 1px solid #d1d5db;
          border-radius: 8px; padding: 12px; max-width: 420px; }
  button { font: inherit; padding: 4px 12px; }
  .error { color: #b91c1c; }
  .status { color: #374151; min-height: 1.4em; }
  progress { width: 100%; }
  canvas.plot { width: 100%; height: 140px; }
  canvas.pad { width: 196px; height: 196px; background: #000; touch-action: none; border-radius: 4px; }
  video { width: 196px; border-radius: 4px; }
  ol { margin: 8px 0 0; padding-left: 20px; }
  li span { display: inline-block; min-width: 3em; }
`);
