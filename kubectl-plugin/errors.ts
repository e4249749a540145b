// A failure the plugin reports as it is, on stderr with exit code 2: bad arguments, an object that does not
// exist, a read the apiserver refused. Anything else is a bug and keeps its stack.
export class PluginError extends Error {
  override readonly name = 'PluginError';
}
