export * from './coordinator.js'
export * from './keys.js'
export * from './memory-coordinator.js'
export * from './redis-coordinator.js'
