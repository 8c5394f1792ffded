// Sign-in and sign-up: password, email code, and Google / Yandex when their client ids are set.
import { useState, useEffect } from 'preact/hooks';
import { html, Field, ErrorLine, useAction, go, Loading } from './ui.js';
import { t } from './i18n.js';
import { api, startSession } from './api.js';

/// One random value per sign-in page, kept in this tab: the `state` sent to a provider is
/// `<provider>.<value>`, and an answer is taken only when it brings the same back.
function oauthNonce() {
  let value = sessionStorage.getItem('flint.oauthState');
  if (!value) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    value = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    sessionStorage.setItem('flint.oauthState', value);
  }
  return value;
}

function googleUrl(clientId) {
  const nonce = oauthNonce();
  const params = new URLSearchParams({
    client_id: clientId,
    redirect_uri: `${location.origin}/`,
    response_type: 'id_token',
    scope: 'openid email',
    nonce,
    state: `google.${nonce}`,
    prompt: 'select_account',
  });
  return `https://accounts.google.com/o/oauth2/v2/auth?${params}`;
}

function yandexUrl(clientId) {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: `${location.origin}/`,
    state: `yandex.${oauthNonce()}`,
  });
  return `https://oauth.yandex.ru/authorize?${params}`;
}

/// What an OAuth provider sent back in the URL, if it is an answer to our own request:
/// Google's `#id_token=…&state=google.…`, Yandex's `?code=…&state=yandex.…`.
export function oauthReturn() {
  const expected = sessionStorage.getItem('flint.oauthState');
  const hash = new URLSearchParams(location.hash.replace(/^#/, ''));
  const query = new URLSearchParams(location.search);
  const pick = (params, field, provider) => {
    const value = params.get(field);
    const state = params.get('state');
    if (!value || !state?.startsWith(`${provider}.`)) return null;
    return { provider, value, valid: Boolean(expected) && state === `${provider}.${expected}` };
  };
  return pick(hash, 'id_token', 'google') || pick(query, 'code', 'yandex');
}

export function OAuthFinish({ answer, onSignedIn, onFailed }) {
  useEffect(() => {
    history.replaceState(null, '', '/#/');
    sessionStorage.removeItem('flint.oauthState');
    if (!answer.valid) {
      onFailed(new Error('The sign-in answer does not match a sign-in started here; start again.'));
      return;
    }
    const body = answer.provider === 'google' ? { id_token: answer.value } : { code: answer.value };
    api(`/api/auth/${answer.provider}`, { method: 'POST', body })
      .then((r) => startSession(r.token))
      .then(onSignedIn, onFailed);
  }, []);
  return html`<section class="auth card">
    <h1>${t('signin.title')}</h1>
    <p role="status">${t('oauth.working')}</p>
  </section>`;
}

function OAuthButtons({ config }) {
  if (!config?.google_client_id && !config?.yandex_client_id) return null;
  return html`<div class="oauth">
    <p class="muted or">${t('oauth.or')}</p>
    ${config.google_client_id && html`<a class="button wide" role="button" href=${googleUrl(config.google_client_id)}>${t('oauth.google')}</a>`}
    ${config.yandex_client_id && html`<a class="button wide" role="button" href=${yandexUrl(config.yandex_client_id)}>${t('oauth.yandex')}</a>`}
  </div>`;
}

export function PasswordAuth({ mode, config, onSignedIn }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction();
  const signup = mode === 'signup';
  const submit = (e) => {
    e.preventDefault();
    action.run(async () => {
      const path = signup ? '/api/auth/register' : '/api/auth/login';
      const answer = await api(path, { method: 'POST', body: { email, password } });
      await startSession(answer.token);
      await onSignedIn();
    });
  };
  return html`<section class="auth card" aria-labelledby="auth-title">
    <h1 id="auth-title">${t(signup ? 'signup.title' : 'signin.title')}</h1>
    <form onSubmit=${submit}>
      <${Field} label=${t('email')} type="email" autocomplete="email" required value=${email} onInput=${(e) => setEmail(e.currentTarget.value)} />
      <${Field} label=${t('password')} type="password" autocomplete=${signup ? 'new-password' : 'current-password'} required minlength="8" maxlength="128"
        hint=${signup ? t('password.hint') : undefined} value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} />
      <${ErrorLine} error=${action.error} />
      <button type="submit" class="primary wide" disabled=${action.busy}>${t(signup ? 'signup.submit' : 'signin.submit')}</button>
    </form>
    <${OAuthButtons} config=${config} />
    <p><a href=${signup ? '#/signin' : '#/signup'}>${t(signup ? 'signup.toSignin' : 'signin.toSignup')}</a></p>
    <p><a href="#/signup/code">${t('signin.withCode')}</a></p>
  </section>`;
}

export function CodeSignup({ onSignedIn }) {
  const [step, setStep] = useState('email');
  const [email, setEmail] = useState('');
  const [code, setCode] = useState('');
  const [ticket, setTicket] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction();
  const send = (e) => {
    e.preventDefault();
    action.run(async () => {
      await api('/auth/send-code', { method: 'POST', body: { email } });
      setStep('code');
    });
  };
  const verify = (e) => {
    e.preventDefault();
    action.run(async () => {
      const answer = await api('/auth/verify-email', { method: 'POST', body: { email, code: code.trim() } });
      setTicket(answer.ticket);
      setStep('password');
    });
  };
  const finish = (e) => {
    e.preventDefault();
    action.run(async () => {
      const answer = await api('/auth/complete-registration', { method: 'POST', body: { ticket, password } });
      await startSession(answer.token);
      await onSignedIn();
    });
  };
  return html`<section class="auth card">
    <h1>${t('code.title')}</h1>
    ${step === 'email' &&
    html`<form onSubmit=${send}>
      <${Field} label=${t('email')} type="email" autocomplete="email" required value=${email} onInput=${(e) => setEmail(e.currentTarget.value)} />
      <${ErrorLine} error=${action.error} />
      <button type="submit" class="primary wide" disabled=${action.busy}>${t('code.send')}</button>
    </form>`}
    ${step === 'code' &&
    html`<form onSubmit=${verify}>
      <p role="status">${t('code.sent', { email })}</p>
      <${Field} label=${t('code.code')} inputmode="numeric" autocomplete="one-time-code" required pattern="[0-9 ]{6,7}" value=${code} onInput=${(e) => setCode(e.currentTarget.value)} />
      <${ErrorLine} error=${action.error} />
      <button type="submit" class="primary wide" disabled=${action.busy}>${t('code.verify')}</button>
    </form>`}
    ${step === 'password' &&
    html`<form onSubmit=${finish}>
      <${Field} label=${t('code.password')} type="password" autocomplete="new-password" required minlength="8" maxlength="128" hint=${t('password.hint')}
        value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} />
      <${ErrorLine} error=${action.error} />
      <button type="submit" class="primary wide" disabled=${action.busy}>${t('code.finish')}</button>
    </form>`}
    <p><a href="#/signin">${t('signup.toSignin')}</a></p>
  </section>`;
}

export { Loading, go };
