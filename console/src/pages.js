// The customer pages.
import { useState, useEffect, useRef, useMemo } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { html, usd, rub, num, when, day, useLoad, Loaded, ErrorLine, Notice, Field, SelectField, CopyButton, useAction, useId, go } from './ui.js';
import { t, locale } from './i18n.js';
import { api, streamChat, startSession, endSession } from './api.js';

const models = () => api('/api/models').then((r) => r.models);

// ---- dashboard

export function Dashboard({ me }) {
  const state = useLoad(() => api('/auth/me'), []);
  return html`<section aria-labelledby="page-title">
    <h1 id="page-title">${t('dash.title')}</h1>
    <${Loaded} state=${state}>
      ${(data) => {
        const { user, usage, limits } = data;
        return html`<div class="tiles">
            <article class="tile" aria-labelledby="tile-balance">
              <h2 id="tile-balance">${t('dash.balance')}</h2>
              <p class="big" data-testid="balance">${usd(user.balance_usd)}</p>
              <a href="#/billing">${t('dash.topup')}</a>
            </article>
            <article class="tile" aria-labelledby="tile-plan">
              <h2 id="tile-plan">${t('dash.plan')}</h2>
              <p class="big">${user.plan}</p>
              <p class="muted">${user.planExpiresAt ? t('dash.planEnds', { date: day(user.planExpiresAt) }) : t('dash.planNoEnd')}</p>
            </article>
            <article class="tile" aria-labelledby="tile-free">
              <h2 id="tile-free">${t('dash.free')}</h2>
              <p class="big">${t('dash.freeOf', { left: num(usage.remaining), limit: num(usage.limit) })}</p>
              <meter min="0" max=${usage.limit || 1} value=${usage.remaining} aria-labelledby="tile-free"></meter>
              <p class="muted">${t('dash.resets', { time: when(usage.resetsAt) })}</p>
            </article>
            <article class="tile" aria-labelledby="tile-rpm">
              <h2 id="tile-rpm">${t('dash.rpm')}</h2>
              <p class="big">${t('dash.headroom', { left: num(limits.rpmRemaining), limit: num(limits.rpm) })}</p>
            </article>
            <article class="tile" aria-labelledby="tile-tpm">
              <h2 id="tile-tpm">${t('dash.tpm')}</h2>
              <p class="big">${t('dash.headroom', { left: num(limits.tpmRemaining), limit: num(limits.tpm) })}</p>
            </article>
            <article class="tile" aria-labelledby="tile-today">
              <h2 id="tile-today">${t('dash.today')}</h2>
              <p>${t('dash.todayLine', { requests: num(usage.requestsToday), tokens: num(usage.tokensToday) })}</p>
              <a href="#/keys">${t('dash.newKey')}</a>
            </article>
          </div>`;
      }}
    <//>
  </section>`;
}

// ---- API keys

export function Keys() {
  const list = useLoad(() => api('/api/keys').then((r) => r.keys), []);
  const catalog = useLoad(models, []);
  const [name, setName] = useState('');
  const [scope, setScope] = useState([]);
  const [expires, setExpires] = useState('');
  const [created, setCreated] = useState(null);
  const [notice, setNotice] = useState(null);
  const create = useAction();
  const revoke = useAction();
  const scopeId = useId('scope');

  const submit = (e) => {
    e.preventDefault();
    create.run(async () => {
      const body = { name: name.trim() };
      if (scope.length) body.models = scope;
      if (expires) body.expires_at = new Date(`${expires}T23:59:59`).toISOString().replace(/\.\d+Z$/, 'Z');
      const key = await api('/api/keys', { method: 'POST', body });
      setCreated(key);
      setName('');
      setScope([]);
      setExpires('');
      list.reload();
    });
  };
  const doRevoke = (key) => {
    if (!confirm(t('keys.confirm', { name: key.name }))) return;
    revoke.run(async () => {
      await api(`/api/keys/${encodeURIComponent(key.id)}`, { method: 'DELETE' });
      if (created?.id === key.id) setCreated(null);
      setNotice(t('keys.revoked', { name: key.name }));
      list.reload();
    });
  };
  return html`<section aria-labelledby="page-title">
    <h1 id="page-title">${t('keys.title')}</h1>
    <form class="card" onSubmit=${submit} aria-labelledby="create-title">
      <h2 id="create-title">${t('keys.create')}</h2>
      <${Field} label=${t('keys.name')} required maxlength="64" value=${name} onInput=${(e) => setName(e.currentTarget.value)} />
      <div class="field">
        <label for=${scopeId}>${t('keys.models')}</label>
        <select id=${scopeId} multiple size="5" onChange=${(e) => setScope(Array.from(e.currentTarget.selectedOptions, (o) => o.value))}>
          ${(catalog.data || []).map((m) => html`<option value=${m.id} selected=${scope.includes(m.id)}>${m.name} (${m.id})</option>`)}
        </select>
      </div>
      <${Field} label=${t('keys.expires')} type="date" value=${expires} min=${new Date().toISOString().slice(0, 10)} onInput=${(e) => setExpires(e.currentTarget.value)} />
      <${ErrorLine} error=${create.error} />
      <button type="submit" class="primary" disabled=${create.busy}>${t('keys.submit')}</button>
    </form>
    ${created &&
    html`<section class="card new-key" aria-labelledby="new-key-title">
      <h2 id="new-key-title">${t('keys.new')}</h2>
      <p>${t('keys.newHint')}</p>
      <div class="row">
        <label class="sr-only" for="new-key">${t('keys.newLabel')}</label>
        <input id="new-key" class="mono grow" readonly value=${created.key} onFocus=${(e) => e.currentTarget.select()} />
        <${CopyButton} text=${created.key} label=${t('keys.copyKey')}>${t('keys.copyKey')}<//>
      </div>
    </section>`}
    <section aria-labelledby="list-title">
      <h2 id="list-title">${t('keys.list')}</h2>
      <${Notice} text=${notice} />
      <${ErrorLine} error=${revoke.error} />
      <${Loaded} state=${list}>
        ${(keys) =>
          keys.length === 0
            ? html`<p class="empty">${t('keys.empty')}</p>`
            : html`<div class="table-wrap"><table>
                <thead><tr><th scope="col">${t('keys.name')}</th><th scope="col">${t('keys.prefix')}</th><th scope="col">${t('keys.scope')}</th>
                  <th scope="col">${t('keys.expires')}</th><th scope="col">${t('keys.created')}</th><th scope="col">${t('keys.lastUsed')}</th><th scope="col"><span class="sr-only">${t('keys.revoke')}</span></th></tr></thead>
                <tbody>
                  ${keys.map(
                    (k) => html`<tr>
                      <th scope="row">${k.name}</th>
                      <td class="mono">${k.prefix}…</td>
                      <td>${k.models ? k.models.join(', ') : t('keys.every')}</td>
                      <td>${k.expires_at ? day(k.expires_at) : t('never')}</td>
                      <td>${day(k.created_at)}</td>
                      <td>${when(k.last_used_at)}</td>
                      <td><button type="button" class="danger" aria-label=${t('keys.revokeNamed', { name: k.name })} onClick=${() => doRevoke(k)}>${t('keys.revoke')}</button></td>
                    </tr>`,
                  )}
                </tbody>
              </table></div>`}
      <//>
    </section>
  </section>`;
}

// ---- usage

function UsageChart({ daily, days }) {
  const box = useRef(null);
  useEffect(() => {
    if (!box.current) return;
    const xs = daily.map((d) => Date.parse(`${d.date}T00:00:00Z`) / 1000);
    const width = Math.max(280, Math.min(box.current.clientWidth || 640, 960));
    const plot = new uPlot(
      {
        width,
        height: 260,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        scales: { x: { time: true }, usd: { auto: true, range: (u, min, max) => [0, Math.max(max, 0.000001)] }, tok: { range: (u, min, max) => [0, Math.max(max, 1)] } },
        series: [
          {},
          { label: t('usage.spend'), scale: 'usd', stroke: '#d97706', fill: 'rgba(217,119,6,0.15)', width: 2, value: (u, v) => (v == null ? '' : usd(v)) },
          { label: t('usage.tokens'), scale: 'tok', stroke: '#2563eb', width: 2, value: (u, v) => (v == null ? '' : num(v)) },
        ],
        axes: [
          {
            incrs: [86400, 2 * 86400, 7 * 86400],
            values: (u, vals) => vals.map((v) => new Date(v * 1000).toLocaleDateString(locale(), { month: 'short', day: 'numeric', timeZone: 'UTC' })),
          },
          { scale: 'usd', values: (u, vals) => vals.map((v) => (v === 0 ? '$0' : `$${Number(v.toPrecision(2))}`)), size: 80 },
          { scale: 'tok', side: 1, grid: { show: false }, values: (u, vals) => vals.map((v) => num(v)), size: 60 },
        ],
      },
      [xs, daily.map((d) => d.cost_usd), daily.map((d) => d.tokens_in + d.tokens_out)],
      box.current,
    );
    return () => plot.destroy();
  }, [daily, locale()]);
  return html`<figure class="card chart">
    <div ref=${box} role="img" aria-label=${t('usage.chart', { n: days })}></div>
    <figcaption class="muted">${t('usage.chart', { n: days })}</figcaption>
  </figure>`;
}

function UsageTable({ rows, first, firstLabel }) {
  return html`<div class="table-wrap"><table>
    <thead><tr><th scope="col">${firstLabel}</th><th scope="col">${t('usage.requests')}</th><th scope="col">${t('usage.in')}</th><th scope="col">${t('usage.out')}</th><th scope="col">${t('usage.cost')}</th></tr></thead>
    <tbody>${rows.map(
      (r) => html`<tr><th scope="row">${first(r)}</th><td>${num(r.requests)}</td><td>${num(r.tokens_in)}</td><td>${num(r.tokens_out)}</td><td>${usd(r.cost_usd)}</td></tr>`,
    )}</tbody>
  </table></div>`;
}

export function Usage({ query }) {
  const days = query.get('days') === '30' ? 30 : 7;
  const state = useLoad(() => api(`/api/usage?days=${days}`), [days]);
  return html`<section aria-labelledby="page-title">
    <h1 id="page-title">${t('usage.title')}</h1>
    <${SelectField} label=${t('usage.period')} value=${String(days)} onChange=${(e) => go(`/usage?days=${e.currentTarget.value}`)}
      options=${[['7', t('usage.days', { n: 7 })], ['30', t('usage.days', { n: 30 })]]} />
    <${Loaded} state=${state}>
      ${(data) => html`
        <${UsageChart} daily=${data.daily} days=${data.days} />
        <h2>${t('usage.byModel')}</h2>
        ${data.by_model.length === 0 ? html`<p class="empty">${t('usage.empty')}</p>` : html`<${UsageTable} rows=${data.by_model} firstLabel=${t('usage.model')} first=${(r) => r.model} />`}
        <h2>${t('usage.byKey')}</h2>
        ${data.by_key.length === 0
          ? html`<p class="empty">${t('usage.empty')}</p>`
          : html`<${UsageTable} rows=${data.by_key} firstLabel=${t('usage.key')}
              first=${(r) => (r.key_id == null ? t('usage.session') : r.name || `${t('usage.deletedKey')} (${r.key_id})`)} />`}
      `}
    <//>
  </section>`;
}

// ---- billing

const PENDING = 'flint.payment';

function History() {
  const [pages, setPages] = useState([]);
  const [cursor, setCursor] = useState(null);
  const state = useLoad(() => api('/api/billing/history?limit=20'), []);
  const more = useAction();
  useEffect(() => {
    if (state.data) {
      setPages(state.data.entries);
      setCursor(state.data.next_cursor);
    }
  }, [state.data]);
  const loadMore = () =>
    more.run(async () => {
      const next = await api(`/api/billing/history?limit=20&cursor=${encodeURIComponent(cursor)}`);
      setPages((p) => [...p, ...next.entries]);
      setCursor(next.next_cursor);
    });
  return html`<section aria-labelledby="history-title">
    <h2 id="history-title">${t('billing.history')}</h2>
    <${Loaded} state=${state}>
      ${() =>
        pages.length === 0
          ? html`<p class="empty">${t('billing.empty')}</p>`
          : html`<div class="table-wrap"><table>
              <thead><tr><th scope="col">${t('billing.date')}</th><th scope="col">${t('billing.kind')}</th><th scope="col">${t('billing.amount')}</th><th scope="col">${t('billing.balanceAfter')}</th><th scope="col">${t('billing.reference')}</th></tr></thead>
              <tbody>${pages.map(
                (e) => html`<tr><td>${when(e.created_at)}</td><td>${t(`kind.${e.kind}`)}</td><td class=${e.amount_usd < 0 ? 'neg' : 'pos'}>${usd(e.amount_usd)}</td><td>${usd(e.balance_usd)}</td><td class="mono small">${e.reference}</td></tr>`,
              )}</tbody>
            </table></div>
            ${cursor && html`<button type="button" onClick=${loadMore} disabled=${more.busy}>${t('billing.more')}</button>`}
            <${ErrorLine} error=${more.error} />`}
    <//>
  </section>`;
}

export function Billing({ me, config }) {
  const [amount, setAmount] = useState('10');
  const [currency, setCurrency] = useState('USD');
  const pay = useAction();
  const [redirecting, setRedirecting] = useState(false);
  const start = (body) =>
    pay.run(async () => {
      const payment = await api('/api/billing/topup', { method: 'POST', body });
      localStorage.setItem(PENDING, payment.payment_id);
      setRedirecting(true);
      location.assign(payment.confirmation_url);
    });
  const submit = (e) => {
    e.preventDefault();
    const value = Number(amount.replace(',', '.'));
    start(currency === 'RUB' ? { amount_rub: value } : { amount_usd: value });
  };
  const plans = (config?.plans || []).filter((p) => p.monthly_price_rub);
  return html`<section aria-labelledby="page-title">
    <h1 id="page-title">${t('billing.title')}</h1>
    <p>${t('dash.balance')}: <strong data-testid="balance">${usd(me.user.balance_usd)}</strong></p>
    ${config && !config.payments && html`<p class="notice">${t('billing.noPayments')}</p>`}
    <div class="cols">
      <form class="card" onSubmit=${submit} aria-labelledby="topup-title">
        <h2 id="topup-title">${t('billing.topup')}</h2>
        <div class="row">
          <${Field} label=${t('billing.amount')} inputmode="decimal" required pattern="[0-9]+([.,][0-9]{1,2})?" value=${amount} onInput=${(e) => setAmount(e.currentTarget.value)} />
          <${SelectField} label=${t('billing.currency')} value=${currency} onChange=${(e) => setCurrency(e.currentTarget.value)} options=${[['USD', 'USD ($)'], ['RUB', 'RUB (₽)']]} />
        </div>
        ${config && html`<p class="muted">${t('billing.rate', { rate: config.usd_rub_rate })}</p>`}
        <button type="submit" class="primary" disabled=${pay.busy || redirecting}>${t('billing.pay')}</button>
      </form>
      <section class="card" aria-labelledby="plans-title">
        <h2 id="plans-title">${t('billing.plans')}</h2>
        <ul class="plain">
          ${plans.map(
            (p) => html`<li class="plan">
              <p><strong>${p.name}</strong>${me.user.plan === p.id ? html` · <em>${t('billing.current')}</em>` : ''}</p>
              <p class="muted">${t('billing.planLine', { daily: num(p.daily_lite_requests), rpm: num(p.rpm) })}</p>
              <button type="button" onClick=${() => start({ plan: p.id })} disabled=${pay.busy || redirecting}>${t('billing.buy', { plan: p.name, price: num(p.monthly_price_rub) })}</button>
            </li>`,
          )}
        </ul>
      </section>
    </div>
    <${ErrorLine} error=${pay.error} />
    ${redirecting && html`<p role="status">${t('billing.redirecting')}</p>`}
    <${History} />
  </section>`;
}

/// Where YooKassa sends the payer back: the payment read back (and checked at YooKassa) until
/// it is settled one way or the other.
export function BillingReturn({ onChanged }) {
  const id = useMemo(() => localStorage.getItem(PENDING), []);
  const [payment, setPayment] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!id) return;
    let live = true;
    let timer;
    const check = async (attempt) => {
      try {
        const p = await api(`/api/billing/payments/${encodeURIComponent(id)}`);
        if (!live) return;
        setPayment(p);
        setError(null);
        if (p.status === 'pending') {
          timer = setTimeout(() => check(attempt + 1), Math.min(1000 * 2 ** attempt, 15000));
        } else {
          localStorage.removeItem(PENDING);
          onChanged();
        }
      } catch (e) {
        if (live) setError(e);
      }
    };
    check(0);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [id]);
  let line = t('return.checking');
  if (!id) line = t('return.none');
  else if (payment?.status === 'succeeded')
    line = payment.plan ? t('return.succeededPlan', { plan: payment.plan }) : t('return.succeeded', { amount: payment.amount_usd != null ? usd(payment.amount_usd) : rub(payment.amount_rub) });
  else if (payment?.status === 'canceled') line = t('return.canceled');
  else if (payment?.status === 'pending') line = t('return.pending');
  return html`<section aria-labelledby="page-title">
    <h1 id="page-title">${t('return.title')}</h1>
    <p role="status" class=${payment?.status === 'succeeded' ? 'success' : ''}>${line}</p>
    <${ErrorLine} error=${error} />
    <p><a href="#/billing">${t('return.back')}</a></p>
  </section>`;
}

// ---- models

function price(v) {
  return v == null ? t('none') : usd(v);
}

export function Models() {
  const state = useLoad(models, []);
  const [q, setQ] = useState('');
  const [tier, setTier] = useState('');
  const [company, setCompany] = useState('');
  const [category, setCategory] = useState('');
  return html`<section aria-labelledby="page-title">
    <h1 id="page-title">${t('models.title')}</h1>
    <${Loaded} state=${state}>
      ${(list) => {
        const values = (field) => [...new Set(list.map((m) => m[field]))].sort();
        const opts = (field) => [['', t('all')], ...values(field).map((v) => [v, v])];
        const needle = q.trim().toLowerCase();
        const shown = list.filter(
          (m) =>
            (!needle || m.id.toLowerCase().includes(needle) || m.name.toLowerCase().includes(needle) || m.company.toLowerCase().includes(needle)) &&
            (!tier || m.tier === tier) &&
            (!company || m.company === company) &&
            (!category || m.category === category),
        );
        return html`<div class="filters" role="search">
            <${Field} label=${t('models.search')} type="search" value=${q} onInput=${(e) => setQ(e.currentTarget.value)} />
            <${SelectField} label=${t('models.tier')} value=${tier} onChange=${(e) => setTier(e.currentTarget.value)} options=${opts('tier')} />
            <${SelectField} label=${t('models.company')} value=${company} onChange=${(e) => setCompany(e.currentTarget.value)} options=${opts('company')} />
            <${SelectField} label=${t('models.category')} value=${category} onChange=${(e) => setCategory(e.currentTarget.value)} options=${opts('category')} />
          </div>
          <p role="status" class="muted">${t('models.count', { n: shown.length })}</p>
          ${shown.length === 0
            ? html`<p class="empty">${t('models.empty')}</p>`
            : html`<div class="table-wrap"><table class="models">
              <thead><tr><th scope="col">${t('models.model')}</th><th scope="col">${t('models.company')}</th><th scope="col">${t('models.tier')}</th><th scope="col">${t('models.category')}</th>
                <th scope="col">${t('models.input')}</th><th scope="col">${t('models.output')}</th><th scope="col">${t('models.cacheRead')}</th><th scope="col">${t('models.cacheWrite')}</th><th scope="col">${t('models.context')}</th></tr></thead>
              <tbody>${shown.map(
                (m) => html`<tr>
                  <th scope="row"><span>${m.name}</span><br /><code>${m.id}</code> <${CopyButton} text=${m.id} label=${t('models.copyId', { id: m.id })} /></th>
                  <td>${m.company}</td><td>${m.tier}</td><td>${m.category}</td>
                  ${m.price_input == null && m.category === 'image'
                    ? html`<td colspan="4">${t('models.perImage', { price: usd(m.price_weighted) })}</td>`
                    : html`<td>${price(m.price_input)}</td><td>${price(m.price_output)}</td><td>${price(m.price_cache_read)}</td><td>${price(m.price_cache_write)}</td>`}
                  <td>${m.context_length == null ? t('none') : typeof m.context_length === 'number' ? num(m.context_length) : m.context_length}</td>
                </tr>`,
              )}</tbody>
            </table></div>`}`;
      }}
    <//>
  </section>`;
}

// ---- playground

export function Playground({ onChanged }) {
  const catalog = useLoad(() => models().then((l) => l.filter((m) => m.category !== 'image')), []);
  const [model, setModel] = useState('gpt-4o-mini');
  const [input, setInput] = useState('');
  const [turns, setTurns] = useState([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const abort = useRef(null);
  const inputId = useId('msg');
  const send = async (e) => {
    e.preventDefault();
    const text = input.trim();
    if (!text || busy) return;
    const history = turns.flatMap((turn) => [
      { role: 'user', content: turn.user },
      ...(turn.answer ? [{ role: 'assistant', content: turn.answer }] : []),
    ]);
    const turn = { user: text, answer: '', model, bill: null };
    setTurns((list) => [...list, turn]);
    setInput('');
    setBusy(true);
    setError(null);
    abort.current = new AbortController();
    const update = (patch) => setTurns((list) => list.map((x, i) => (i === list.length - 1 ? { ...x, ...patch } : x)));
    let answer = '';
    try {
      const bill = await streamChat(
        { model_id: model, messages: [...history, { role: 'user', content: text }] },
        {
          signal: abort.current.signal,
          onDelta: (d) => {
            answer += d;
            update({ answer });
          },
        },
      );
      update({ answer, bill });
      onChanged();
    } catch (err) {
      if (err.name !== 'AbortError') setError(err);
    } finally {
      setBusy(false);
    }
  };
  const total = turns.reduce((sum, turn) => sum + (turn.bill?.cost_usd || 0), 0);
  return html`<section aria-labelledby="page-title" class="playground">
    <h1 id="page-title">${t('play.title')}</h1>
    <div class="row">
      <${SelectField} label=${t('play.model')} value=${model} onChange=${(e) => setModel(e.currentTarget.value)}
        options=${(catalog.data || [{ id: model, name: model }]).map((m) => [m.id, `${m.name} (${m.id})`])} />
      <button type="button" onClick=${() => setTurns([])} disabled=${busy}>${t('play.clear')}</button>
    </div>
    <ol class="chat" aria-live="polite" aria-label=${t('play.title')}>
      ${turns.length === 0 && html`<li class="muted">${t('play.empty')}</li>`}
      ${turns.map(
        (turn) => html`<li class="turn">
          <p class="msg user"><strong>${t('play.you')}:</strong> ${turn.user}</p>
          <p class="msg assistant"><strong>${t('play.assistant')} (${turn.model}):</strong> ${turn.answer}</p>
          ${turn.bill &&
          html`<p class="muted small turn-cost">${t('play.turn', {
            in: num(turn.bill.tokens_in),
            out: num(turn.bill.tokens_out),
            cost: turn.bill.billing_mode === 'free' ? t('play.free') : usd(turn.bill.cost_usd),
          })}</p>`}
        </li>`,
      )}
    </ol>
    ${turns.some((x) => x.bill) && html`<p class="muted">${t('play.total', { cost: usd(total) })}</p>`}
    <${ErrorLine} error=${error} />
    <form onSubmit=${send} class="composer">
      <label for=${inputId}>${t('play.message')}</label>
      <textarea id=${inputId} rows="3" value=${input} onInput=${(e) => setInput(e.currentTarget.value)}
        onKeyDown=${(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send(e);
        }}></textarea>
      <div class="row">
        <button type="submit" class="primary" disabled=${busy || !input.trim()}>${t('play.send')}</button>
        ${busy && html`<button type="button" onClick=${() => abort.current?.abort()}>${t('play.stop')}</button>`}
      </div>
    </form>
  </section>`;
}

// ---- quickstart

export function Quickstart() {
  const base = location.origin;
  const snippets = [
    ['curl', `curl ${base}/v1/chat/completions \\\n  -H "Authorization: Bearer $FLINT_API_KEY" \\\n  -H 'Content-Type: application/json' \\\n  -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}'`],
    ['OpenAI SDK (Python)', `from openai import OpenAI\nclient = OpenAI(base_url="${base}/v1", api_key="sk-…")\nanswer = client.chat.completions.create(\n    model="claude-sonnet-4.5",\n    messages=[{"role": "user", "content": "Hello!"}],\n)\nprint(answer.choices[0].message.content)`],
    ['OpenAI SDK (Node)', `import OpenAI from 'openai';\nconst client = new OpenAI({ baseURL: '${base}/v1', apiKey: process.env.FLINT_API_KEY });\nconst answer = await client.chat.completions.create({\n  model: 'gemini-2.5-flash',\n  messages: [{ role: 'user', content: 'Hello!' }],\n});\nconsole.log(answer.choices[0].message.content);`],
    ['Claude Code', `export ANTHROPIC_BASE_URL=${base}\nexport ANTHROPIC_API_KEY=sk-…   # a Flint API key\nclaude                      # or: claude --model gpt-4.1`],
    ['Codex', `# ~/.codex/config.toml; then: export FLINT_API_KEY=sk-…\nmodel = "claude-sonnet-4.5"\nmodel_provider = "flint"\n\n[model_providers.flint]\nname = "Flint"\nbase_url = "${base}/v1"\nenv_key = "FLINT_API_KEY"\nwire_api = "responses"`],
  ];
  return html`<section aria-labelledby="page-title">
    <h1 id="page-title">${t('qs.title')}</h1>
    <p>${t('qs.intro', { url: base })} <a href="#/keys">${t('dash.newKey')}</a></p>
    ${snippets.map(
      ([name, code]) => html`<section class="card snippet" aria-label=${name}>
        <div class="row between"><h2>${name}</h2><${CopyButton} text=${code} label=${t('qs.copySnippet', { name })} /></div>
        <pre tabindex="0"><code>${code}</code></pre>
      </section>`,
    )}
  </section>`;
}

// ---- settings

export function Settings({ me, onSignedOut }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const change = useAction();
  const everywhere = useAction();
  const submit = (e) => {
    e.preventDefault();
    change.run(async () => {
      const answer = await api('/api/auth/password', { method: 'POST', body: { current_password: current, new_password: next } });
      // Every earlier token is revoked, the cookie's too: the new one replaces it.
      await startSession(answer.token);
      setCurrent('');
      setNext('');
      return t('settings.changed');
    });
  };
  const signOutEverywhere = () =>
    everywhere.run(async () => {
      await api('/api/auth/logout-all', { method: 'POST' });
      await endSession();
      onSignedOut();
    });
  return html`<section aria-labelledby="page-title">
    <h1 id="page-title">${t('settings.title')}</h1>
    <p>${t('settings.account')}: <strong>${me.user.email}</strong></p>
    <form class="card" onSubmit=${submit} aria-labelledby="pw-title">
      <h2 id="pw-title">${t('settings.password')}</h2>
      <p class="muted">${t('settings.changeWarn')}</p>
      <${Field} label=${t('settings.current')} type="password" autocomplete="current-password" value=${current} onInput=${(e) => setCurrent(e.currentTarget.value)} />
      <${Field} label=${t('settings.new')} type="password" autocomplete="new-password" required minlength="8" maxlength="128" hint=${t('password.hint')} value=${next} onInput=${(e) => setNext(e.currentTarget.value)} />
      <${ErrorLine} error=${change.error} />
      <${Notice} text=${change.notice} />
      <button type="submit" class="primary" disabled=${change.busy}>${t('settings.change')}</button>
    </form>
    <section class="card" aria-labelledby="out-title">
      <h2 id="out-title">${t('settings.everywhere')}</h2>
      <p class="muted">${t('settings.everywhereHint')}</p>
      <${ErrorLine} error=${everywhere.error} />
      <button type="button" class="danger" onClick=${signOutEverywhere} disabled=${everywhere.busy}>${t('settings.everywhere')}</button>
    </section>
  </section>`;
}
