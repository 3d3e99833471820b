// Turns the medians into what people read: ratios against a baseline, the issue's
// pass/fail targets, a markdown table and one summary line.

const fmt = (x, digits = 0) => (x === null || x === undefined ? '-' : Number(x).toFixed(digits));
const metricOf = (scenario, row) => (row ? row[scenario.metric] : null);

/**
 * Baseline for the chart's ratios in each scenario: nginx (1 worker) where it ran,
 * else fastify (the upload scenario, which nginx does not do), else the first server.
 */
export function addRatios(results) {
  for (const sc of results.scenarios) {
    const order = ['nginx-1', 'fastify', ...Object.keys(sc.rows)];
    const base = order.find((id) => metricOf(sc, sc.rows[id]) > 0);
    sc.baseline = base ?? null;
    for (const [id, row] of Object.entries(sc.rows)) {
      if (row) row.ratio = base ? metricOf(sc, row) / metricOf(sc, sc.rows[base]) : null;
      if (row && id === base) row.ratio = 1;
    }
  }
}

// The targets of issue 18. `ratio` targets compare ours with a peer on the scenario metric
// (`peers`: the first that ran); `check` targets test ours alone in a scenario; `whole`
// targets look at every scenario at once.
const TARGETS = [
  { scenario: 'get-ka', peers: ['nginx-1'], min: 1.2, text: 'small keep-alive >= 1.2 x nginx (1 worker)' },
  { scenario: 'get-1000', text: '1000 conns: no errors, no non-2xx', check: (r) => [r.errors + r.non2xx + r.failedRounds === 0, `errors ${r.errors}, non-2xx ${r.non2xx}, failed rounds ${r.failedRounds}`] },
  { scenario: 'get-1000', text: '1000 conns: no 503', check: (r) => [r.status503 === 0, `503s ${r.status503}`] },
  {
    scenario: 'get-1000', text: '1000 conns: p99 <= 2.5 x p50',
    check: (r, sc) => [r.p99Ms <= 2.5 * r.p50Ms, `${fmt(r.p99Ms / r.p50Ms, 2)} x (p99 ${fmt(r.p99Ms, 1)} ms, p50 ${fmt(r.p50Ms, 1)} ms${spreadOf(tailRatios(sc))})${peerTails(sc)}`],
  },
  { whole: true, text: 'peak RSS < 200 MiB over the whole benchmark', check: peakRss },
  {
    scenario: 'upload', peers: ['baseline', 'fastify'], min: 2,
    text: 'durable upload >= 2 x today (the baseline build, else fastify storing durably as ours did)',
  },
  { scenario: 'upload', peers: ['fastify-nofsync'], min: 0.5, text: 'durable upload >= 0.5 x fastify without fsync' },
  { scenario: 'get-close', peers: ['net-close'], min: 0.9, text: 'Connection: close >= 0.9 x bare node:net' },
  { scenario: 'download-1m', peers: ['nginx-1'], min: 0.8, text: '1 MiB download >= 0.8 x nginx (1 worker) MB/s' },
  { scenario: 'get-pipelined', peers: ['nginx-1'], min: 1, text: 'pipelining stays ahead of nginx (1 worker)' },
];

const spreadOf = (values) => (values.length > 1 ? `; single rounds ${fmt(Math.min(...values), 2)}-${fmt(Math.max(...values), 2)} x` : '');

/** p99 over p50 of a server in each round. */
function tailRatios(sc, id = 'ours') {
  return (sc.runs?.[id] ?? []).filter((r) => !r.failed && r.p50Ms > 0).map((r) => r.p99Ms / r.p50Ms);
}

/** The same ratio for the peers that ran, for reference: the bare node:net peer is the runtime's own. */
function peerTails(sc) {
  const peers = ['net-keepalive', 'nginx-1'].filter((id) => sc.rows[id]?.p50Ms > 0);
  return peers.map((id) => `; ${id} ${fmt(sc.rows[id].p99Ms / sc.rows[id].p50Ms, 2)} x${spreadOf(tailRatios(sc, id))}`).join('');
}

/** The highest RSS ours reached in any scenario, and where. */
function peakRss(results) {
  const peaks = results.scenarios.filter((sc) => sc.rows.ours).map((sc) => [sc.id, sc.rows.ours.rssMiB]);
  if (peaks.length === 0) return [false, 'ours not measured'];
  const [where, peak] = peaks.reduce((a, b) => (b[1] > a[1] ? b : a));
  const idle = results.servers.ours?.idleRssMiB;
  return [peak < 200, `${fmt(peak, 1)} MiB (in ${where}; idle after start ${fmt(idle, 1)} MiB)`];
}

/**
 * Ours over the peer in each round both ran. The two ran one after the other, so the
 * machine's drift between rounds cancels: the spread shows how far one run's ratio can be trusted.
 */
function roundRatios(sc, peerId) {
  const ours = sc.runs?.ours ?? [];
  const peer = sc.runs?.[peerId] ?? [];
  return ours.flatMap((run, i) => {
    const other = peer[i];
    return !run.failed && other !== undefined && !other.failed && other[sc.metric] > 0 ? [run[sc.metric] / other[sc.metric]] : [];
  });
}

/** CPU per request against the peer's: steadier than req/s on a machine shared with other work. */
function cpuRatio(ours, peer) {
  if (!(ours.cpuUsPerRequest > 0 && peer.cpuUsPerRequest > 0)) return '';
  return `; CPU per request ${fmt(ours.cpuUsPerRequest, 1)} vs ${fmt(peer.cpuUsPerRequest, 1)} us, ${fmt(ours.cpuUsPerRequest / peer.cpuUsPerRequest, 2)} x`;
}

function evaluateRatio(t, sc, ours) {
  const peerId = t.peers.find((id) => metricOf(sc, sc.rows[id]) > 0);
  if (!peerId) return { text: t.text, status: 'SKIP', detail: `${t.peers.join(' or ')} not measured` };
  const peer = sc.rows[peerId];
  const ratio = metricOf(sc, ours) / metricOf(sc, peer);
  return {
    text: t.text,
    status: ratio >= t.min ? 'PASS' : 'FAIL',
    ratio,
    label: `${t.scenario} vs ${peerId}`,
    detail: `${fmt(ratio, 2)} x ${peerId} (${fmt(metricOf(sc, ours), 1)} vs ${fmt(metricOf(sc, peer), 1)} ${sc.metric === 'mbps' ? 'MB/s' : 'req/s'}${spreadOf(roundRatios(sc, peerId))}${cpuRatio(ours, peer)})`,
  };
}

/** Evaluates every target: { text, status: PASS|FAIL|SKIP, detail, ratio? }. */
export function evaluateTargets(results) {
  return TARGETS.map((t) => {
    if (t.whole) {
      const [pass, detail] = t.check(results);
      return { text: t.text, status: pass ? 'PASS' : 'FAIL', detail };
    }
    const sc = results.scenarios.find((s) => s.id === t.scenario);
    const ours = sc?.rows.ours;
    if (!sc) return { text: t.text, status: 'SKIP', detail: `scenario ${t.scenario} not run` };
    // Ours ran but every round failed: that is a failure, not a skip.
    if (!ours && sc.notes.ours) return { text: t.text, status: 'FAIL', detail: sc.notes.ours };
    if (!ours) return { text: t.text, status: 'SKIP', detail: 'ours not measured' };
    if (t.check) {
      const [pass, detail] = t.check(ours, sc);
      return { text: t.text, status: pass ? 'PASS' : 'FAIL', detail };
    }
    return evaluateRatio(t, sc, ours);
  });
}

/** The markdown table: one row per scenario and server. */
export function markdownTable(results, labels) {
  const lines = [
    '| scenario | server | req/s | MB/s | p50 ms | p99 ms | errors | non-2xx | RSS MiB | CPU us/req | x base | notes |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const sc of results.scenarios) {
    for (const [id, row] of Object.entries(sc.rows)) {
      const name = labels[id] ?? id;
      if (!row) {
        lines.push(`| ${sc.id} | ${name} | - | - | - | - | - | - | - | - | - | ${sc.notes[id] ?? 'no result'} |`);
        continue;
      }
      const notes = [];
      if (row.files !== undefined) notes.push(`files ${row.files} for ${row.ok2xx} 2xx${row.filesMismatch ? ' MISMATCH' : ''}`);
      if (row.status503) notes.push(`503: ${row.status503}`);
      if (sc.notes[id]) notes.push(sc.notes[id]);
      if (id === sc.baseline) notes.push('baseline');
      lines.push(`| ${sc.id} | ${name} | ${fmt(row.rps)} | ${fmt(row.mbps, 1)} | ${fmt(row.p50Ms, 2)} | ${fmt(row.p99Ms, 2)} | ` +
        `${row.errors} | ${row.non2xx} | ${fmt(row.rssMiB, 1)} | ${fmt(row.cpuUsPerRequest, 1)} | ${fmt(row.ratio, 2)} | ${notes.join('; ')} |`);
    }
  }
  return lines.join('\n');
}

/** One line with every ratio the targets look at (or why there are none). */
export function summaryLine(results, targets) {
  const ratios = targets.filter((t) => t.ratio !== undefined).map((t) => `${t.label} ${fmt(t.ratio, 2)}x`);
  const passed = targets.filter((t) => t.status === 'PASS').length;
  const failed = targets.filter((t) => t.status === 'FAIL').length;
  const skipped = targets.filter((t) => t.status === 'SKIP').length;
  const head = `SUMMARY targets ${passed} pass, ${failed} fail, ${skipped} skip`;
  if (!results.scenarios.some((s) => s.rows.ours)) {
    // Without ours, still say something useful: the peers against the baseline.
    const peers = results.scenarios.map((s) => {
      const others = Object.entries(s.rows).filter(([id, r]) => r && id !== s.baseline);
      return others.length ? `${s.id}: ${others.map(([id, r]) => `${id} ${fmt(r.ratio, 2)}x`).join(' ')} (vs ${s.baseline})` : null;
    }).filter(Boolean);
    const why = results.servers.ours?.status === 'ran' ? 'ours gave no results' : 'ours not run';
    return `${head} | ${why}${peers.length ? ` | peers: ${peers.join(' | ')}` : ''}`;
  }
  const many = results.scenarios.find((s) => s.id === 'get-1000')?.rows.ours;
  const crowd = many ? ` | get-1000: p99 ${fmt(many.p99Ms, 1)} ms (${fmt(many.p99Ms / many.p50Ms, 2)} x p50), RSS ${fmt(many.rssMiB, 0)} MiB, errors ${many.errors}, 503 ${many.status503}` : '';
  return `${head} | ours/peer: ${ratios.join(', ') || '-'}${crowd}`;
}
