// What the drivers chunk holds (src/drivers.ts reads these names): one place for every build
// that writes the chunk (scripts/build.mjs, the standalone binary's build).
export const DRIVERS_CHUNK_SOURCE =
  "module.exports = { mongodb: require('mongodb'), mongodbConnection: require('mongodb/lib/cmap/connection'), rhea: require('rhea'), amqplib: require('amqplib') };";

/** The packages in it, kept out of the agent's own bundle. */
export const DRIVER_PACKAGES = ['mongodb', 'rhea', 'amqplib'];
