// @wa-cluster/control-plane: what the all-in-one entry composes. Curated: nothing else here is public.

export { loadConfig } from './config.js'
export { type ControlPlane, createControlPlane } from './control-plane.js'
