// The Flint console: one page, hash-routed, served by the worker's static assets.
import { render } from 'preact';
import { useState, useEffect } from 'preact/hooks';
import './style.css';
import { html, useRoute, go, Loading, ErrorLine } from './ui.js';
import { t, getLang, setLang, LANGUAGES } from './i18n.js';
import { api, endSession } from './api.js';
import { PasswordAuth, CodeSignup, OAuthFinish, oauthReturn } from './auth.js';
import { Dashboard, Keys, Usage, Billing, BillingReturn, Models, Playground, Quickstart, Settings } from './pages.js';
import { Admin } from './admin.js';

const CUSTOMER = [
  ['/', 'nav.dashboard'],
  ['/keys', 'nav.keys'],
  ['/usage', 'nav.usage'],
  ['/billing', 'nav.billing'],
  ['/models', 'nav.models'],
  ['/playground', 'nav.playground'],
  ['/quickstart', 'nav.quickstart'],
  ['/settings', 'nav.settings'],
];
const PUBLIC = new Set(['/signin', '/signup', '/signup/code', '/models', '/admin']);

function LanguageSwitch({ onChange }) {
  return html`<div class="lang">
    <label for="language">${t('language')}</label>
    <select id="language" value=${getLang()} onChange=${(e) => onChange(e.currentTarget.value)}>
      ${Object.entries(LANGUAGES).map(([code, name]) => html`<option value=${code} lang=${code}>${name}</option>`)}
    </select>
  </div>`;
}

function Header({ me, path, onLang, onSignOut }) {
  const [open, setOpen] = useState(false);
  const links = me ? CUSTOMER : [['/signin', 'signin.title'], ['/models', 'nav.models']];
  return html`<header class="top">
    <a class="brand" href="#/">⚡ ${t('brand')}</a>
    <button type="button" class="menu" aria-label=${t('menu')} aria-expanded=${open} aria-controls="main-nav" onClick=${() => setOpen(!open)}>☰</button>
    <nav id="main-nav" aria-label=${t('nav')} class=${open ? 'open' : ''} onClick=${() => setOpen(false)}>
      <ul>
        ${links.map(([href, key]) => html`<li><a href=${`#${href}`} aria-current=${path === href ? 'page' : undefined}>${t(key)}</a></li>`)}
        <li><a href="#/admin" aria-current=${path === '/admin' ? 'page' : undefined}>${t('nav.admin')}</a></li>
      </ul>
    </nav>
    <div class="tools">
      <${LanguageSwitch} onChange=${onLang} />
      ${me && html`<button type="button" onClick=${onSignOut}>${t('signOut')}</button>`}
    </div>
  </header>`;
}

function App() {
  const route = useRoute();
  const [, setLangTick] = useState(getLang());
  const [me, setMe] = useState(undefined); // undefined: not known yet; null: signed out
  const [meError, setMeError] = useState(null);
  const [config, setConfig] = useState(null);
  const [oauth, setOauth] = useState(oauthReturn);
  const [oauthError, setOauthError] = useState(null);

  const loadMe = async () => {
    try {
      setMe(await api('/auth/me'));
      setMeError(null);
    } catch (e) {
      if (e.status === 401 || e.status === 403) setMe(null);
      else {
        setMeError(e);
        setMe(null);
      }
    }
  };
  useEffect(() => {
    api('/api/console/config').then(setConfig, () => setConfig(null));
    if (!oauth) loadMe();
  }, []);

  const onSignedIn = async () => {
    setOauthError(null);
    await loadMe();
    go('/');
  };
  const onSignedOut = () => {
    setMe(null);
    go('/signin');
  };
  const signOut = async () => {
    try {
      await endSession();
    } finally {
      onSignedOut();
    }
  };
  const onLang = (code) => {
    setLang(code);
    setLangTick(code);
  };
  // Announce the page to screen readers and the tab title.
  useEffect(() => {
    const heading = document.querySelector('main h1');
    if (heading) document.title = `${heading.textContent} · Flint`;
  });

  const { path, query } = route;
  let page;
  const oauthFailed = (error) => {
    setOauthError(error);
    setOauth(null);
    loadMe();
  };
  if (oauth) page = html`<${OAuthFinish} answer=${oauth} onSignedIn=${async () => { setOauth(null); await onSignedIn(); }} onFailed=${oauthFailed} />`;
  else if (me === undefined && !PUBLIC.has(path)) page = html`<${Loading} />`;
  else if (path === '/admin') page = html`<${Admin} config=${config} />`;
  else if (path === '/models') page = html`<${Models} />`;
  else if (!me) {
    if (path === '/signup') page = html`<${PasswordAuth} mode="signup" config=${config} onSignedIn=${onSignedIn} />`;
    else if (path === '/signup/code') page = html`<${CodeSignup} onSignedIn=${onSignedIn} />`;
    else page = html`<${PasswordAuth} mode="signin" config=${config} onSignedIn=${onSignedIn} />`;
  } else {
    const pages = {
      '/': () => html`<${Dashboard} me=${me} />`,
      '/keys': () => html`<${Keys} />`,
      '/usage': () => html`<${Usage} query=${query} />`,
      '/billing': () => html`<${Billing} me=${me} config=${config} />`,
      '/billing/return': () => html`<${BillingReturn} onChanged=${loadMe} />`,
      '/playground': () => html`<${Playground} onChanged=${loadMe} />`,
      '/quickstart': () => html`<${Quickstart} />`,
      '/settings': () => html`<${Settings} me=${me} onSignedOut=${onSignedOut} />`,
    };
    page = (pages[path] || pages['/'])();
  }
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <${Header} me=${me} path=${path} onLang=${onLang} onSignOut=${signOut} />
    <main id="main" tabindex="-1">
      <${ErrorLine} error=${meError} onRetry=${loadMe} />
      <${ErrorLine} error=${oauthError} />
      ${page}
    </main>
    <footer class="muted small">Flint · <a href="#/quickstart">${t('nav.quickstart')}</a></footer>
  `;
}

const root = document.getElementById('app');
root.textContent = ''; // the static "Loading…" line
render(html`<${App} />`, root);
