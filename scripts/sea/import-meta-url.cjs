// CommonJS has no import.meta; the bundle's import.meta.url becomes the binary's own file
// URL, so a source file that reads something "next to itself" gets a clear ENOENT in the
// standalone binary rather than a crash on an undefined URL.
exports.importMetaUrl = require('node:url').pathToFileURL(__filename).href;
