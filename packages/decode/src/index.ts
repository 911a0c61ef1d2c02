export type { FieldsInput, PacketFields } from "./fields.js";
export { packetFields } from "./fields.js";
export type { FlowHasherOptions, FlowKeyKind, FramedBytes } from "./flow-hasher.js";
export { FlowHasher, flowHash } from "./flow-hasher.js";
export { formatIp, formatIpv6, formatMac } from "./format.js";
export type { DecodeLayer, DecodeStop } from "./packet-decoder.js";
export { IpProtocol, PacketDecoder } from "./packet-decoder.js";
export { nodeSeed, Rendezvous, rendezvousPick } from "./rendezvous.js";
