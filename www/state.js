// The page state, its one worker client, and the shapes of what the wasm API returns.
import { Pool } from './pool.js';

/**
 * An image of the batch: the encoded bytes as given, their size, an object URL for the thumbnail.
 * @typedef {{name: string, bytes: Uint8Array, width: number, height: number, url: string}} Input
 */
/** A zoo model (`listModels`). @typedef {{name: string, title: string, dataset: string, file: string}} ModelEntry */
/** A scaler of the scaling attack (`listScalers`). @typedef {{name: string, library: string, default: boolean}} ScalerEntry */
/** A menu entry of `listAttacks`. @typedef {{name: string, title: string, default: boolean}} MenuEntry */
/**
 * The attack catalogue (`listAttacks`): families with the settings they use, losses, SEA's losses, reconstructions.
 * @typedef {{kinds: {name: string, title: string, default: boolean, uses_step_size: boolean, uses_loss: boolean}[],
 *            losses: MenuEntry[], sea_losses: string[], reconstructions: MenuEntry[]}} AttackCatalog
 */
/**
 * The loaded model (`Session.info`).
 * @typedef {{name: string, title: string, dataset: string, classes: string[], palette: number[][],
 *            native_width: number, native_height: number, size_rule: string}} ModelInfo
 */
/**
 * A loaded session as the worker describes it.
 * @typedef {{backend: string, webgpu: boolean, note: string, info: ModelInfo, seconds: number, workers?: number,
 *            calibration?: import('./calibrate.js').Calibration | null}} Loaded
 */
/**
 * `Session.segment`: the resized images (RGB) and their class maps.
 * @typedef {{width: number, height: number, images: Uint8Array[], maps: Uint8Array[], seconds: number}} Segmentation
 */
/** Scores of one set of maps against another. @typedef {{miou: number, pixel_accuracy: number, agreement: number}} MapMetrics */
/** One PGD iterate. @typedef {{step: number, loss: number, agreement: number}} Point */
/**
 * Scores of adversarial images (docs/report-schema.md).
 * @typedef {{linf: number, l2: number, psnr: number | string, vs_clean: MapMetrics, vs_target: MapMetrics | null,
 *            vs_ground_truth: MapMetrics | null}} Scores
 */
/**
 * What a defended model makes of the clean and the 8-bit adversarial images.
 * @typedef {{clean_vs_clean: MapMetrics, vs_clean: MapMetrics, vs_target: MapMetrics | null}} DefendedScores
 */
/**
 * The core's `AttackReport` (the CLI's report.json; docs/report-schema.md).
 * @typedef {{schema: string, spec: object, steps_run: number, seconds: number, targeted: boolean, backend: string,
 *            images: {name: string, clean: {vs_target: MapMetrics | null}, quantized: Scores, defended: DefendedScores | null,
 *                     winning_loss: string | null}[],
 *            overall: {clean: {vs_target: MapMetrics | null}, quantized: Scores, defended: DefendedScores | null},
 *            defense: {label: string, adaptive: boolean} | null, history: object[]}} AttackReport
 */
/**
 * `Session.attack`: the report and the pixels (RGB images, class maps).
 * @typedef {{report: AttackReport, width: number, height: number, images: Uint8Array[], adversarial: Uint8Array[],
 *            pngs: Uint8Array[], clean_maps: Uint8Array[], adversarial_maps: Uint8Array[], reference_maps: Uint8Array[],
 *            defended_clean_maps: Uint8Array[] | null, defended_adversarial_maps: Uint8Array[] | null}} AttackResult
 */
/** An RGB image of a scaling result. @typedef {{width: number, height: number, rgb: Uint8Array}} Picture */
/** A class map of a scaling result. @typedef {{width: number, height: number, classes: Uint8Array}} MapPicture */
/**
 * `Session.scalingAttack`: `report` is the core's `ScalingReport`; `inputs` and `maps` are keyed
 * by `<defense>_<image>`, e.g. `none_attack`; `wanted` (a class or painted target) holds the wanted
 * map and the core's `MapTargetReport` (`clean_vs_wanted`, `target_vs_wanted`, `attack_vs_wanted`, `craft`).
 * @typedef {{report: any, source: Picture, target: Picture, attack: Picture, png: Uint8Array,
 *            inputs: Record<string, Picture>, maps: Record<string, MapPicture>, seconds: number,
 *            wanted: {map: MapPicture, report: any} | null}} ScalingResult
 */
/**
 * @typedef {object} State
 * @property {Input[]} images the batch (at most MAX_IMAGES)
 * @property {ModelEntry[]} models the zoo
 * @property {AttackCatalog | null} attacks the attack menus' catalogue
 * @property {ModelInfo | null} info the loaded model
 * @property {string} backend the device's description
 * @property {boolean} webgpu whether the session runs on a hardware WebGPU adapter
 * @property {string} warmedFor the batch and size the attack kernels were compiled for (WebGPU)
 * @property {[number, number] | null} size the working size of the batch
 * @property {Segmentation | null} clean the batch's segmentation
 * @property {AttackResult | ScalingResult | null} result the last run's result
 * @property {'attack' | 'scaling' | null} resultKind which of the two `result` is
 * @property {number} selected the image shown
 * @property {'untargeted' | 'targeted' | 'scaling'} mode the tab
 * @property {Uint8Array | null} painted the painted target map at the working size (255 = unpainted)
 * @property {number} paintClass the brush's class (255: eraser)
 * @property {boolean} busy a call is running
 * @property {Point[]} points the live chart's iterates
 * @property {number} firstSegmentationMs time from page start to the first segmentation
 * @property {number} t0 page start
 * @property {boolean} ready the first model is loaded and the default image segmented
 */

/** Images in the batch at most. */
export const MAX_IMAGES = 4;
/** The model offered first. */
export const DEFAULT_MODEL = 'espnetv2-voc';

/** @type {State} */
export const state = {
  images: [],
  models: [],
  attacks: null,
  info: null,
  backend: '',
  webgpu: false,
  warmedFor: '',
  size: null,
  clean: null,
  result: null,
  resultKind: null,
  selected: 0,
  mode: 'untargeted',
  painted: null,
  paintClass: 15,
  busy: false,
  points: [],
  firstSegmentationMs: NaN,
  t0: performance.now(),
  ready: false,
};

/** Resolves once the page can run: the first model loaded and the default image segmented. */
let markReady = () => {};
export const ready = new Promise((resolve) => { markReady = () => resolve(undefined); });
/** The page can run now (main.js, after the first load). */
export function setReady() { state.ready = true; markReady(); }

/** The workers that own the wasm instances (one, or a pool on the CPU: pool.js). */
export const api = new Pool();

/** An element of the page by id. @param {string} id @returns {any} */
export const $ = (id) => document.getElementById(id);

/** The image shown, clamped to the batch. */
export function selectedIndex() {
  return Math.min(state.selected, Math.max(0, state.images.length - 1));
}
