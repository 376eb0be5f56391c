// Every workflow the worker registers; export only workflows here.
export { release } from './release.js';
