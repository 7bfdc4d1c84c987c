/** Placeholder until runtime detection lands: acceptance tests will get their Podman socket from here. */
export default function setup(): void {}
