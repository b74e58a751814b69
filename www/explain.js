// What a result means, in words: the headline numbers of an attack or a scaling attack and the
// notes that explain outcomes that would otherwise look broken (an unchanged image, a kept
// earlier iterate, rounding to 8 bits, a target that is already met, …). Pure functions of the
// core's reports (docs/report-schema.md): no page state, so that they say the same whatever
// drew the result.
//
// The report's `images[i].kept_step` (the iterate returned for the image) and `budget` are read
// when present; without them the notes fall back on what every report holds (L∞ = 0 means the
// start was returned; the history's last iterate against the final table).

/** @typedef {'ok' | 'info' | 'warn'} Level */
/** One explanation. `id` names the case (tests and styles key on it). @typedef {{id: string, level: Level, text: string}} Note */
/** One headline number. @typedef {{id: string, label: string, value: string, sub?: string}} Figure */
/** @typedef {{miou: number, pixel_accuracy: number, agreement: number}} MapMetrics */

/** A fraction as a percentage. @param {number} x @param {number} [digits] */
export const pct = (x, digits = 0) => (Number.isFinite(x) ? `${(100 * x).toFixed(digits)} %` : '—');
/** A radius in [0, 1] as /255 (one decimal where needed). @param {number} x */
export const per255 = (x) => `${Number((255 * x).toFixed(1))}/255`;

/** The score the status line and the notes quote for a goal, in words. @param {boolean} targeted */
export function scoreName(targeted) {
  return targeted ? 'agreement with the target' : 'pixels with their clean class';
}

/** The measure each goal maximises, in words. @param {boolean} targeted */
function measure(targeted) {
  return targeted ? 'the highest agreement with the target' : 'the fewest pixels left with their clean class';
}

/**
 * The iterate returned for image `i` (`kept_step`), or null when the report does not say.
 * @param {any} report @param {number} i @returns {number | null}
 */
export function keptStep(report, i) {
  const k = report.images[i] && report.images[i].kept_step;
  return Number.isInteger(k) ? k : null;
}

/** Whether the run started at the clean image (no random start). @param {any} spec */
function cleanStart(spec) { return !spec.random_start; }

/** The 0-based index of the target image of a targeted-image goal, else -1. @param {any} report */
export function targetImageIndex(report) {
  const s = report.spec || {};
  return s.goal === 'targeted-image' ? (s.target_index || 1) - 1 : -1;
}

/**
 * The headline numbers of image `i` of an attack report.
 * @param {any} report @param {number} i @returns {Figure[]}
 */
export function attackFigures(report, i) {
  const im = report.images[i];
  if (!im) return [];
  const q = im.quantized;
  const changed = 1 - q.vs_clean.pixel_accuracy;
  /** @type {Figure[]} */
  const out = [];
  if (report.targeted && q.vs_target && im.clean.vs_target) {
    out.push({ id: 'agreement', label: 'agreement with the target', value: `${pct(im.clean.vs_target.agreement)} → ${pct(q.vs_target.agreement)}`, sub: 'clean → adversarial' });
  }
  out.push({ id: 'changed', label: 'pixels that changed class', value: pct(changed), sub: `mIoU vs the clean map ${q.vs_clean.miou.toFixed(2)}` });
  out.push({ id: 'linf', label: 'largest change of a colour value', value: per255(q.linf), sub: report.spec && report.spec.norm === 'l2' ? `L2 ${q.l2.toFixed(2)} (ε ${report.eps.toFixed(2)})` : `budget ε ${per255(report.eps)}` });
  if (im.defended) {
    out.push({ id: 'defended', label: 'defended: pixels that changed class', value: pct(1 - im.defended.vs_clean.pixel_accuracy), sub: report.defense ? report.defense.label : '' });
  }
  return out;
}

/**
 * Notes on image `i` of an attack report.
 * @param {any} report @param {number} i @returns {Note[]}
 */
export function explainImage(report, i) {
  const im = report.images[i];
  if (!im) return [];
  const spec = report.spec || {};
  const q = im.quantized, a = im.adversarial || q;
  /** @type {Note[]} */
  const notes = [];
  const isTarget = targetImageIndex(report) === i;
  const k = keptStep(report, i);
  const returnedStart = k === 0 || (k === null && a.linf === 0);
  if (isTarget) {
    notes.push({ id: 'is-target', level: 'info', text: 'This image is the target: its clean map is the target map, so it agrees from the start.' });
  } else if (returnedStart && cleanStart(spec)) {
    notes.push({ id: 'unchanged', level: 'warn', text: 'No iterate beat the clean image, so it is returned unchanged — try more steps, or PGD (a fixed step) in the attack menu.' });
  } else if (returnedStart) {
    notes.push({ id: 'start-kept', level: 'info', text: 'No step improved on the random start, which was kept.' });
  } else if (k !== null && k < report.steps_run) {
    notes.push({ id: 'kept', level: 'info', text: `The result is iterate ${k} of ${report.steps_run}, the most successful one (${measure(report.targeted)}); the live status showed each iterate as it came.` });
  }
  if (report.targeted && q.vs_target && im.clean.vs_target && !isTarget) notes.push(...targetedNotes(report, im));
  if (!report.targeted && !returnedStart) {
    const changed = 1 - q.vs_clean.pixel_accuracy;
    if (changed < 0.1) notes.push({ id: 'weak', level: 'info', text: `Only ${pct(changed, 1)} of the pixels changed class: try a larger ε or more steps.` });
    else notes.push({ id: 'success', level: 'ok', text: `${pct(changed)} of the pixels changed class, though no colour value moved by more than ${per255(q.linf)}.` });
  }
  notes.push(...roundingNotes(report, im));
  if (im.defended && report.defense) notes.push(...defenseNotes(report, im));
  if (im.winning_loss) notes.push({ id: 'sea', level: 'info', text: `SEA kept its ${im.winning_loss} run for this image (the most successful of its losses).` });
  return notes;
}

/** @param {any} report @param {any} im @returns {Note[]} */
function targetedNotes(report, im) {
  const spec = report.spec || {};
  const c = im.clean.vs_target.agreement, qa = im.quantized.vs_target.agreement;
  const ra = (im.adversarial && im.adversarial.vs_target) ? im.adversarial.vs_target.agreement : qa;
  /** @type {Note[]} */
  const out = [];
  if (spec.goal === 'targeted-map' && spec.keep_unpainted) {
    out.push({ id: 'keep-unpainted', level: 'info', text: `Unpainted pixels keep their clean class, so the agreement starts at ${pct(c)}: only the painted ones must change.` });
  } else if (c >= 0.98) {
    out.push({ id: 'already', level: 'info', text: `The clean map already agrees ${pct(c)} with the target: little is left to change.` });
  }
  if (ra < c - 0.001) {
    out.push({ id: 'target-fell', level: 'warn', text: `The agreement with the target fell (${pct(c, 1)} → ${pct(ra, 1)}): the attack overshot the target — try APGD, a smaller step size or more steps.` });
  } else if (qa > c + 0.001) {
    out.push({ id: 'success', level: 'ok', text: `The agreement with the target rose from ${pct(c, 1)} to ${pct(qa, 1)}.` });
  }
  return out;
}

/** Notes on the 8-bit rounding and the budget. @param {any} report @param {any} im @returns {Note[]} */
function roundingNotes(report, im) {
  /** @type {Note[]} */
  const out = [];
  const b = report.budget;
  const score = (/** @type {any} */ s) => (report.targeted && s.vs_target ? s.vs_target.agreement : s.vs_clean.pixel_accuracy);
  if (b && b.holds === false) {
    out.push({ id: 'over-budget', level: 'warn', text: `The result exceeds its budget (${b.note || 'ε is not kept'}): a false result — please report it.` });
  } else if (!b && report.spec && report.spec.norm !== 'l2' && im.adversarial && im.adversarial.linf > report.eps * (1 + 1e-6) + 1e-9) {
    out.push({ id: 'over-budget', level: 'warn', text: `A value moved by ${per255(im.adversarial.linf)}, more than ε = ${per255(report.eps)}: a false result — please report it.` });
  }
  if (b && b.below_8bit_grid) {
    out.push({ id: 'below-grid', level: 'info', text: `ε is below the 8-bit grid: the saved PNG (nearly) equals the clean image; the real-valued scores are the ones that count.` });
  } else if (im.adversarial && Math.abs(score(im.adversarial) - score(im.quantized)) > 0.02) {
    out.push({ id: 'rounding', level: 'info', text: `Rounding to 8 bits (the PNG) moved the result: ${scoreName(report.targeted)} ${pct(score(im.adversarial), 1)} before, ${pct(score(im.quantized), 1)} after.` });
  }
  return out;
}

/** @param {any} report @param {any} im @returns {Note[]} */
function defenseNotes(report, im) {
  const d = report.defense;
  const undefended = im.quantized.vs_clean.pixel_accuracy, defended = im.defended.vs_clean.pixel_accuracy;
  if (!d.adaptive && defended - undefended > 0.1) {
    return [{ id: 'defense-undid', level: 'info', text: `The defense (${d.label}) gives back ${pct(defended - undefended)} of the clean classes — the attack did not know about it; tick “adaptive attack” to attack through it.` }];
  }
  if (d.adaptive) {
    return [{ id: 'adaptive', level: 'info', text: `Attacked through the defense (adaptive): ${pct(1 - defended)} of the defended map changed class.` }];
  }
  return [];
}

/**
 * Notes on the whole batch: the status's last iterate against the table's kept iterates.
 * @param {any} report @returns {Note[]}
 */
export function explainBatch(report) {
  /** @type {Note[]} */
  const notes = [];
  const h = report.history || [];
  const last = h.length ? h[h.length - 1] : null;
  const haveKept = report.images.some((/** @type {any} */ _, /** @type {number} */ i) => keptStep(report, i) !== null);
  if (last && !haveKept && report.overall.adversarial) {
    const o = report.overall.adversarial;
    const final = report.targeted && o.vs_target ? o.vs_target.agreement : o.vs_clean.agreement;
    if (Number.isFinite(last.mean_agreement) && Math.abs(final - last.mean_agreement) > 0.005) {
      notes.push({ id: 'earlier-kept', level: 'info', text: `The result is an earlier, more successful iterate than the last for at least one image: the live status ended at ${pct(last.mean_agreement, 1)}, the result is ${pct(final, 1)}.` });
    }
  }
  if (report.stopped_early) notes.push({ id: 'stopped-early', level: 'info', text: `Stopped early after ${report.steps_run} steps: every image reached the early-stop success rate.` });
  return notes;
}

/**
 * Headline numbers and notes of a scaling attack result (`Session.scalingAttack`).
 * @param {any} r @returns {{figures: Figure[], notes: Note[]}}
 */
export function explainScaling(r) {
  const rep = r.report;
  const toTarget = r.wanted ? r.wanted.report.attack_vs_wanted : rep.down_map_vs_target;
  const base = r.wanted ? r.wanted.report.clean_vs_wanted : rep.clean_down_map_vs_target;
  const what = r.wanted ? 'the wanted map' : "the target image's map";
  /** @type {Figure[]} */
  const figures = [
    { id: 'scaling-target', label: `downscaled, the network sees ${r.wanted ? 'the wanted map' : 'the target'}`, value: pct(toTarget.agreement), sub: `agreement with ${what} (source alone: ${pct(base.agreement)})` },
    { id: 'scaling-source', label: 'agreement with the source\'s map', value: pct(rep.down_map_vs_source.agreement), sub: 'downscaled attack vs downscaled source' },
    { id: 'scaling-psnr', label: 'attack image vs source', value: `${rep.attack.psnr_vs_source.toFixed(1)} dB`, sub: `PSNR at ${rep.full_size[0]}×${rep.full_size[1]}` },
  ];
  /** @type {Note[]} */
  const notes = [];
  if (toTarget.agreement > base.agreement + 0.1) {
    notes.push({ id: 'scaling-hidden', level: 'ok', text: `Shrunk by ${rep.scaler} to ${rep.model_size[0]}×${rep.model_size[1]}, the attack image becomes the hidden picture: its map agrees ${pct(toTarget.agreement)} with ${what}. The tiles shrink by area averaging, as an eye does; the inset shows the real pixels.` });
  } else {
    notes.push({ id: 'scaling-weak', level: 'warn', text: `The downscaled attack image agrees only ${pct(toTarget.agreement)} with ${what}: try a smaller ratio or a larger ε.` });
  }
  return { figures, notes };
}
