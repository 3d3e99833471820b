// A dependency-free SVG bar chart: for each scenario, every server's throughput as
// a ratio of that scenario's baseline (1.0 = baseline, drawn as a dashed line).

const COLORS = {
  ours: '#d62728',
  'nginx-1': '#1f77b4',
  'nginx-auto': '#6baed6',
  'node-http': '#2ca02c',
  fastify: '#9467bd',
  python: '#8c8c8c',
  baseline: '#ff9896',
  'fastify-nofsync': '#c5b0d5',
  'net-close': '#bcbd22',
  'net-keepalive': '#17becf',
};

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

export function ratioChart(results, labels) {
  const scenarios = results.scenarios;
  const servers = [...new Set(scenarios.flatMap((s) => Object.keys(s.rows).filter((id) => s.rows[id])))];
  const targets = results.targets ?? [];
  const W = 1280, left = 56, right = 16, bottom = 54;
  // Legend entries flow into rows; the plot starts below them.
  const legend = [];
  let lx = left, ly = 46;
  for (const id of servers) {
    const label = labels[id] ?? id;
    const width = 14 + label.length * 6.5 + 14; // rough text width at 12px
    if (lx + width > W - right) {
      lx = left;
      ly += 16;
    }
    legend.push({ id, label, x: lx, y: ly });
    lx += width;
  }
  const top = ly + 18, plotBottom = top + 366;
  const H = plotBottom + (targets.length ? 24 + 30 * targets.length : 0);
  const plotW = W - left - right, plotH = plotBottom - top - bottom;
  const maxRatio = Math.max(1.2, ...scenarios.flatMap((s) => Object.values(s.rows).map((r) => r?.ratio ?? 0)));
  const yMax = Math.ceil(maxRatio * 4) / 4; // round up to a quarter for tidy grid lines
  const y = (v) => top + plotH - (v / yMax) * plotH;
  const groupW = plotW / Math.max(1, scenarios.length);
  const barW = Math.min(28, (groupW - 16) / Math.max(1, servers.length));

  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${left}" y="20" font-size="15" font-weight="bold">Throughput relative to baseline (higher is better)</text>`);
  out.push(`<text x="${left}" y="38" fill="#555">${esc(`${results.meta.date} · ${results.meta.mode} run · ${results.meta.rounds} rounds x ${results.meta.duration}s · driver ${results.meta.driver}`)}</text>`);

  for (const { id, label, x, y: ey } of legend) {
    out.push(`<rect x="${x}" y="${ey}" width="10" height="10" fill="${COLORS[id] ?? '#444'}"/>`);
    out.push(`<text x="${x + 14}" y="${ey + 9}">${esc(label)}</text>`);
  }

  // Grid and axis.
  for (let v = 0; v <= yMax + 1e-9; v += yMax > 3 ? 1 : 0.25) {
    out.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v.toFixed(2)}</text>`);
  }
  out.push(`<line x1="${left}" x2="${W - right}" y1="${y(1)}" y2="${y(1)}" stroke="#333" stroke-dasharray="4 3"/>`);

  // Bars.
  scenarios.forEach((sc, g) => {
    const present = servers.filter((id) => sc.rows[id]);
    const x0 = left + g * groupW + (groupW - present.length * barW) / 2;
    present.forEach((id, i) => {
      const r = sc.rows[id].ratio ?? 0;
      const x = x0 + i * barW;
      out.push(`<rect x="${x + 1}" y="${y(r)}" width="${barW - 2}" height="${Math.max(0, y(0) - y(r))}" fill="${COLORS[id] ?? '#444'}">` +
        `<title>${esc(`${labels[id] ?? id}: ${r.toFixed(2)}x`)}</title></rect>`);
      out.push(`<text x="${x + barW / 2}" y="${y(r) - 3}" text-anchor="middle" font-size="9">${r.toFixed(2)}</text>`);
    });
    const cx = left + g * groupW + groupW / 2;
    out.push(`<text x="${cx}" y="${plotBottom - bottom + 18}" text-anchor="middle" font-weight="bold">${esc(sc.id)}</text>`);
    out.push(`<text x="${cx}" y="${plotBottom - bottom + 34}" text-anchor="middle" fill="#555">${esc(sc.metric === 'mbps' ? 'MB/s' : 'req/s')} vs ${esc(sc.baseline ?? '-')}</text>`);
  });
  // The targets, as the report prints them.
  targets.forEach((t, i) => {
    const color = t.status === 'PASS' ? '#2ca02c' : t.status === 'FAIL' ? '#d62728' : '#888';
    const ty = plotBottom + 16 + i * 30;
    out.push(`<text x="${left}" y="${ty}" font-size="12"><tspan fill="${color}" font-weight="bold">${esc(t.status)}</tspan> ${esc(t.text)}</text>`);
    out.push(`<text x="${left + 40}" y="${ty + 13}" font-size="10" fill="#555">${esc(t.detail)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
