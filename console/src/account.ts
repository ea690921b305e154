/** Account: points, voice quotas, and the bills month by month. */
import type { Bill } from '../../sdk/src/index.ts';
import { field, fill, h } from './dom.ts';
import { errorBox, table, type Ctx } from './ui.ts';

/** Bills are read newest first, 100 a page, up to this many (the list shows the months they cover). */
const MAX_BILLS = 2000;

export function accountView(ctx: Ctx): HTMLElement {
  const { w } = ctx;
  const summary = h('div', { class: 'stats' }, h('p', { class: 'muted' }, w.loading));
  const billsEl = h('div', {}, h('p', { class: 'muted' }, w.loading));

  ctx.client
    .balance()
    .then((b) =>
      fill(
        summary,
        stat(w.balance, w.points(b.balance)),
        stat(w.liteVoices, w.used(b.voiceLiteUsedQuantity, b.voiceLiteTotalQuantity)),
        stat(w.proVoices, w.used(b.voiceProUsedQuantity, b.voiceProTotalQuantity)),
      ),
    )
    .catch((err: unknown) => fill(summary, errorBox(w, err)));

  void (async () => {
    try {
      const bills: Bill[] = [];
      for (let pn = 1; bills.length < MAX_BILLS; pn++) {
        const page = await ctx.client.bills({ pn, ds: 100 });
        bills.push(...page.list);
        if (page.list.length < 100 || bills.length >= page.total) break;
      }
      const months = [...new Set(bills.map((b) => b.time.slice(0, 7)))];
      const select = h(
        'select',
        { name: 'month' },
        h('option', { value: '' }, w.allMonths),
        months.map((m) => h('option', { value: m }, m)),
      );
      const out = h('div', {});
      const draw = () => {
        const rows = bills.filter((b) => select.value === '' || b.time.startsWith(select.value));
        const fee = rows.reduce((s, b) => s + b.fee, 0);
        fill(
          out,
          table(
            [w.type, w.time, w.duration, w.fee, w.job],
            rows.map((b) =>
              h(
                'tr',
                {},
                h('td', {}, b.type),
                h('td', {}, b.time),
                h('td', { class: 'num' }, w.seconds(b.duration)),
                h('td', { class: 'num' }, w.points(b.fee)),
                h('td', {}, h('code', {}, b.jobId ?? '')),
              ),
            ),
            w.noBills,
          ),
          rows.length > 0 ? h('p', { class: 'total' }, `${w.total}: ${w.points(fee)}`) : null,
        );
      };
      select.addEventListener('change', draw);
      draw();
      fill(billsEl, h('div', { class: 'toolbar' }, field(w.month, select)), out);
    } catch (err) {
      fill(billsEl, errorBox(w, err));
    }
  })();

  return h(
    'div',
    { class: 'view' },
    h('section', { class: 'card' }, h('h2', {}, w.account), summary),
    h('section', { class: 'card' }, h('h2', {}, w.bills), billsEl),
  );
}

function stat(label: string, value: string): HTMLElement {
  return h(
    'div',
    { class: 'stat' },
    h('span', { class: 'stat-label' }, label),
    h('span', { class: 'stat-value' }, value),
  );
}
