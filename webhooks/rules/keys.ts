// Labels and annotations the CRD rules read or write (§2.1, §2.2, §2.5).
export const POOL_CIDR_LABEL = 'ipam.spidernet.io/ippool-cidr';
export const SUBNET_CIDR_LABEL = 'ipam.spidernet.io/subnet-cidr';
export const OWNER_SUBNET_LABEL = 'ipam.spidernet.io/owner-spider-subnet';

export const NAD_NAME_ANNOTATION = 'multus.spidernet.io/cr-name';
export const CNI_VERSION_ANNOTATION = 'multus.spidernet.io/cni-version';
export const RDMA_INJECT_ANNOTATION = 'cni.spidernet.io/rdma-resource-inject';
export const NETWORK_INJECT_ANNOTATION = 'cni.spidernet.io/network-resource-inject';
