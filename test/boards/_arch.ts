// Preloaded (`node -r`) into every child of the board tests: says which architecture the
// process really runs as, on stderr, before the script itself starts.
process.stderr.write(`xiota-test-arch: ${process.arch} ${process.version}\n`);
