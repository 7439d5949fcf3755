export * from './client.js'
export * from './prepared-statement.js'
export * from './schema/index.js'
export * from './sql-helpers.js'
