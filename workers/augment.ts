/**
 * Augmentation in the decode worker, in three parts any decoder can use, one module each under `augment/`:
 * - `draws.ts`, {@link drawAugmentation}: the sample's random draws as plain data, a pure function of
 *   (seed, epoch, index entry), independent of the worker that runs it;
 * - `stage.ts`, the decoder's part, geometry on the source: the crop region ({@link resolveCrop}, in source
 *   pixels of the EXIF-oriented image), the size to resize it to ({@link stageSize}) and the blur
 *   ({@link applySharpStage} does all three with sharp, in the same pipeline as the decode and resize);
 * - `pixel-passes.ts`, {@link writeAugmented}: one pass over the decoded 8-bit pixels that samples them through
 *   the flips, the rotation/shear/zoom/translation and the crop window, applies the colour ops and erasing, and
 *   writes the output dtype and normalization straight into the slot. Its passes share `sample.ts` (where a
 *   pixel reads the stage image) and `tone.ts` (the colour ops).
 */
export { drawAugmentation, type AugmentDraw, type Region } from './augment/draws.js';
export { BLUR_SIGMA_MIN, applySharpStage, cropWindow, resolveCrop, stageSize } from './augment/stage.js';
export { writeAugmented, type PixelEngine } from './augment/pixel-passes.js';
