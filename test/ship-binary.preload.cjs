// Preloaded by test/ship-binary.test.ts: prints the built-in modules this process loaded.
process.on('exit', () => {
  process.stderr.write(`\nLOADED ${process.moduleLoadList.join(',')}\n`);
});
