// The page state, its one worker client, and the shapes of what the wasm API returns.
import { Api } from './api.js';

/**
 * An image of the batch: the encoded bytes as given, their size, an object URL for the thumbnail.
 * @typedef {{name: string, bytes: Uint8Array, width: number, height: number, url: string}} Input
 */
/** A zoo model (`listModels`). @typedef {{name: string, title: string, dataset: string, file: string}} ModelEntry */
/** A scaler of the scaling attack (`listScalers`). @typedef {{name: string, library: string, default: boolean}} ScalerEntry */
/**
 * The loaded model (`Session.info`).
 * @typedef {{name: string, title: string, dataset: string, classes: string[], palette: number[][],
 *            nativeWidth: number, nativeHeight: number, sizeRule: string}} ModelInfo
 */
/**
 * A loaded session as the worker describes it.
 * @typedef {{backend: string, webgpu: boolean, note: string, info: ModelInfo, seconds: number}} Loaded
 */
/**
 * `Session.segment`: the resized images (RGB) and their class maps.
 * @typedef {{width: number, height: number, images: Uint8Array[], maps: Uint8Array[], seconds: number}} Segmentation
 */
/** Scores of one set of maps against another. @typedef {{miou: number, pixelAccuracy: number, agreement: number}} MapMetrics */
/** Per-image distances of the 8-bit adversarial image. @typedef {{linf: number, l2: number, psnr: number}} ImageStats */
/** One PGD iterate. @typedef {{step: number, loss: number, agreement: number}} Point */
/**
 * What a defended model makes of the clean and adversarial images.
 * @typedef {{label: string, adaptive: boolean, cleanMaps: Uint8Array[], adversarialMaps: Uint8Array[],
 *            cleanVsClean: MapMetrics, vsClean: MapMetrics, vsReference: MapMetrics}} DefenseResult
 */
/**
 * `Session.attack`.
 * @typedef {{width: number, height: number, targeted: boolean, stepsRun: number, seconds: number, options: object,
 *            images: Uint8Array[], adversarial: Uint8Array[], pngs: Uint8Array[], perturbation: Float32Array[],
 *            cleanMaps: Uint8Array[], referenceMaps: Uint8Array[], adversarialMaps: Uint8Array[],
 *            cleanVsReference: MapMetrics, vsClean: MapMetrics, vsReference: MapMetrics,
 *            linf: number, l2: number, psnr: number, perImage: ImageStats[], history: Point[],
 *            defense: DefenseResult | null}} AttackResult
 */
/** An RGB image of a scaling result. @typedef {{width: number, height: number, rgb: Uint8Array}} Picture */
/** A class map of a scaling result. @typedef {{width: number, height: number, classes: Uint8Array}} MapPicture */
/** @typedef {{miou: number, agreement: number}} MapScore */
/**
 * `Session.scalingAttack`: `report` is the core's `ScalingReport` (snake_case); `inputs` and
 * `maps` are keyed by `<defense>_<image>`, e.g. `none_attack`.
 * @typedef {{report: any, source: Picture, target: Picture, attack: Picture, png: Uint8Array,
 *            inputs: Record<string, Picture>, maps: Record<string, MapPicture>, seconds: number,
 *            wanted?: MapPicture, wantedScores?: {clean: MapScore, target: MapScore, attack: MapScore}}} ScalingResult
 */
/**
 * @typedef {object} State
 * @property {Input[]} images the batch (at most MAX_IMAGES)
 * @property {ModelEntry[]} models the zoo
 * @property {ModelInfo | null} info the loaded model
 * @property {string} backend the device's description
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
 */

/** Images in the batch at most. */
export const MAX_IMAGES = 4;
/** The model offered first. */
export const DEFAULT_MODEL = 'espnetv2-voc';

/** @type {State} */
export const state = {
  images: [],
  models: [],
  info: null,
  backend: '',
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
};

/** The worker that owns the wasm instance. */
export const api = new Api();

/** An element of the page by id. @param {string} id @returns {any} */
export const $ = (id) => document.getElementById(id);

/** The image shown, clamped to the batch. */
export function selectedIndex() {
  return Math.min(state.selected, Math.max(0, state.images.length - 1));
}
