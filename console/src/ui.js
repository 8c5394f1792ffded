// Small shared pieces: formatting, the hash router, status lines and copy buttons.
import { h } from 'preact';
import { useEffect, useState, useCallback } from 'preact/hooks';
import htm from 'htm';
import { t, locale } from './i18n.js';

export const html = htm.bind(h);

export function usd(value) {
  const v = Number(value ?? 0);
  // Balances and costs are exact to the micro-dollar: show them so (at least cents).
  return new Intl.NumberFormat(locale(), {
    style: 'currency',
    currency: 'USD',
    minimumFractionDigits: 2,
    maximumFractionDigits: 6,
  }).format(v);
}

export function rub(value) {
  return new Intl.NumberFormat(locale(), { style: 'currency', currency: 'RUB', maximumFractionDigits: 2 }).format(
    Number(value ?? 0),
  );
}

export function num(value) {
  return new Intl.NumberFormat(locale()).format(Number(value ?? 0));
}

export function when(iso) {
  if (!iso) return t('never');
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(locale(), { dateStyle: 'medium', timeStyle: 'short' });
}

export function day(iso) {
  if (!iso) return t('none');
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString(locale(), { dateStyle: 'medium' });
}

/// The route: `#/keys?x=1` → { path: '/keys', query: URLSearchParams }.
export function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  return { path: path || '/', query: new URLSearchParams(qs || '') };
}

export function useRoute() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function go(path) {
  if (location.hash !== `#${path}`) location.hash = path;
}

/// Loads `load()` once (and again on `reload()`): { data, error, loading, reload }.
export function useLoad(load, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

export function Loading() {
  return html`<p role="status" class="muted">${t('loading')}</p>`;
}

export function ErrorLine({ error, onRetry }) {
  if (!error) return null;
  return html`<div role="alert" class="error">
    <span>${error.message || String(error)}</span>
    ${onRetry && html` <button type="button" onClick=${onRetry}>${t('retry')}</button>`}
  </div>`;
}

export function Notice({ text }) {
  return text ? html`<p role="status" class="notice">${text}</p>` : null;
}

/// Shows loading / error / the content of a `useLoad` state.
export function Loaded({ state, children }) {
  if (state.loading && !state.data) return html`<${Loading} />`;
  if (state.error) return html`<${ErrorLine} error=${state.error} onRetry=${state.reload} />`;
  return children(state.data);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Without the async clipboard (an insecure origin), the old way.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

export function CopyButton({ text, label, children }) {
  const [done, setDone] = useState(false);
  const click = async () => {
    if (await copyText(text)) {
      setDone(true);
      setTimeout(() => setDone(false), 1500);
    }
  };
  return html`<button type="button" class="copy" aria-label=${label} onClick=${click}>
    ${done ? t('copied') : children || t('copy')}
  </button>`;
}

/// Runs an async action from a form: { busy, error, notice, run }.
export function useAction() {
  const [state, setState] = useState({ busy: false, error: null, notice: null });
  const run = async (fn) => {
    setState({ busy: true, error: null, notice: null });
    try {
      const notice = await fn();
      setState({ busy: false, error: null, notice: typeof notice === 'string' ? notice : null });
    } catch (error) {
      setState({ busy: false, error, notice: null });
    }
  };
  return { ...state, run };
}

let ids = 0;
export function useId(prefix = 'f') {
  const [id] = useState(() => `${prefix}-${++ids}`);
  return id;
}

/// A labelled input: the label is a real <label for>.
export function Field({ label, hint, ...props }) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} aria-describedby=${hintId} ...${props} />
    ${hint && html`<small id=${hintId} class="muted">${hint}</small>`}
  </div>`;
}

export function SelectField({ label, options, ...props }) {
  const id = useId();
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} ...${props}>
      ${options.map(([value, text]) => html`<option value=${value}>${text}</option>`)}
    </select>
  </div>`;
}
