// What @dot-i/k8s-operator takes from @kubernetes/client-node. The bundle hands it this module instead of the
// package: the operator shell `require`s the whole package, which keeps every API group in the controller's
// bundle (and its source in the heap), while these named re-exports let the bundler leave the unused ones out.
export { ApiextensionsV1Api, CoreV1Api, KubeConfig, Watch, loadYaml } from '@kubernetes/client-node';
