// The lessons' panel: a drawer beside the page (a sheet at the bottom on phones), so that the
// step's text, its "try it" and "next" stay in view while the results show. After a try-it the
// panel shows what that run measured (lesson_list.js). Progress (which step is open, which were
// tried) is kept in localStorage; "Free mode" closes the drawer.
import { $ } from './state.js';
import { beginRun, endRun, failure, guarded, setStage } from './status.js';
import { LESSONS } from './lesson_list.js';

const STORE = 'advseg-lessons';

/** @type {{open: boolean, current: number, done: number[]}} */
let progress = { open: false, current: 0, done: [] };
/** @type {Map<number, import('./lesson_list.js').Outcome>} what each step's last try-it showed (this visit) */
const outcomes = new Map();

function load() {
  try {
    const p = JSON.parse(localStorage.getItem(STORE) || 'null');
    if (p && typeof p.current === 'number' && Array.isArray(p.done)) progress = { open: !!p.open, current: p.current, done: p.done };
  } catch { /* a damaged entry: start over */ }
}
function save() {
  try { localStorage.setItem(STORE, JSON.stringify(progress)); } catch { /* storage off: progress lasts this visit */ }
}

/**
 * A paragraph with its [label](https://…) links as anchors (opened in a new tab).
 * @param {string} text
 */
function paragraph(text) {
  const p = document.createElement('p');
  const re = /\[([^\]]+)\]\((https:\/\/[^)\s]+)\)/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    p.append(document.createTextNode(text.slice(last, m.index)));
    const a = document.createElement('a');
    a.href = m[2]; a.textContent = m[1]; a.target = '_blank'; a.rel = 'noopener';
    p.append(a);
    last = (m.index || 0) + m[0].length;
  }
  p.append(document.createTextNode(text.slice(last)));
  return p;
}

/** The current step's index, clamped. */
function current() { return Math.max(0, Math.min(LESSONS.length - 1, progress.current)); }

/** Draw the drawer: the current step, what its last try-it showed, the step list with ticks. */
function render() {
  const panel = $('lessons');
  panel.hidden = !progress.open;
  document.body.classList.toggle('lessons-open', progress.open);
  $('lessons-toggle').setAttribute('aria-expanded', String(progress.open));
  $('lessons-toggle').textContent = progress.open ? 'Close the lessons' : 'Lessons';
  const cur = current();
  $('lesson-steps').replaceChildren(...LESSONS.map((l, i) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `${progress.done.includes(i) ? '✓ ' : ''}${i + 1}. ${l.title}`;
    if (i === cur) b.setAttribute('aria-current', 'step');
    b.addEventListener('click', () => { progress.current = i; save(); render(); });
    li.append(b);
    return li;
  }));
  const l = LESSONS[cur];
  $('lesson-title').textContent = `${cur + 1}/${LESSONS.length} · ${l.title}`;
  $('lesson-text').replaceChildren(...l.text.map(paragraph));
  const o = outcomes.get(cur);
  $('lesson-result').hidden = !o;
  if (o) {
    const verdict = o.effect ? [] : [paragraph('This run did not show the effect the text describes: the notes above the views say why; try again with more steps (in the form) and Run.')];
    $('lesson-result').replaceChildren(...o.lines.map(paragraph), ...verdict);
  }
  $('lesson-try').textContent = `Try it: ${l.tryLabel}`;
  $('lesson-prev').disabled = cur === 0;
  $('lesson-next').disabled = cur === LESSONS.length - 1;
}

/** Whether a "try it" is under way (a second click waits for it). */
let trying = false;

/** Run the current lesson's "try it"; it counts as done when it ends without an error. */
async function tryCurrent() {
  if (trying) return;
  trying = true;
  const i = current();
  const body = document.body.dataset;
  body.lessonRun = `${i}:running`;
  const id = beginRun(`lesson-${i + 1}`);
  /** @type {'done' | 'error' | 'cancelled'} */
  let outcome = 'error';
  try {
    await guarded(async () => {
      try {
        await LESSONS[i].tryIt();
      } catch (err) {
        outcome = failure(err);
        throw err;
      }
      const o = LESSONS[i].outcome();
      outcomes.set(i, o);
      body.lessonOutcome = JSON.stringify({ lesson: i, effect: o.effect, numbers: o.numbers, text: o.lines });
      outcome = 'done';
      if (!progress.done.includes(i)) progress.done.push(i);
      save();
      setStage(`lesson ${i + 1}: done — ${LESSONS[i].title}`);
    });
  } finally {
    trying = false;
    body.lessonRun = `${i}:${outcome === 'done' ? 'done' : 'error'}`;
    endRun(id, `lesson-${i + 1}`, outcome);
    render();
  }
}

/** Open the drawer at step `i`. @param {number} i */
export function openLesson(i) {
  progress.open = true;
  progress.current = i;
  save();
  render();
  $('lesson-title').focus();
}

/** Wire the lesson panel and restore the kept progress. */
export function wireLessons() {
  load();
  $('lessons-toggle').addEventListener('click', () => {
    progress.open = !progress.open; save(); render();
    if (progress.open) $('lesson-title').focus();
  });
  $('lesson-close').addEventListener('click', () => { progress.open = false; save(); render(); $('lessons-toggle').focus(); });
  $('lesson-prev').addEventListener('click', () => { progress.current = Math.max(0, current() - 1); save(); render(); });
  $('lesson-next').addEventListener('click', () => { progress.current = Math.min(LESSONS.length - 1, current() + 1); save(); render(); });
  $('lesson-reset').addEventListener('click', () => { progress = { open: true, current: 0, done: [] }; outcomes.clear(); save(); render(); });
  $('lesson-try').addEventListener('click', () => { tryCurrent(); });
  $('lesson-fold').addEventListener('click', () => {
    const folded = $('lessons').classList.toggle('folded');
    $('lesson-fold').setAttribute('aria-expanded', String(!folded));
    $('lesson-fold').textContent = folded ? '+' : '–';
  });
  render();
}
