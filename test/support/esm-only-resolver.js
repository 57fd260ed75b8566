/**
 * Jest resolves `require` with the `require` and `default` export conditions. The Kubernetes
 * schema models (and is-cidr, which their validator uses) publish only an `import` entry; for
 * these packages alone, resolve that entry instead (the deploy project's transform turns them
 * into CommonJS).
 */
const ESM_ONLY = /^(kubernetes-models|@kubernetes-models\/[^/]+|is-cidr|cidr-regex)(\/|$)/;

module.exports = (request, options) =>
  options.defaultResolver(
    request,
    ESM_ONLY.test(request) ? { ...options, conditions: ['import', 'default'] } : options,
  );
