{
  description = "Carapace: run an AI agent's tools in locked-down, verified containers";

  # The lock pins this branch to one nixpkgs revision and its NAR hash (see docs/install.md).
  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-25.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      linuxSystems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      darwinSystems = [
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forSystems = systems: f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      devShells = forSystems (linuxSystems ++ darwinSystems) (pkgs: {
        default = pkgs.mkShell {
          packages =
            [
              pkgs.nodejs_20
              # pnpm runs on the shell's Node 20, so native addons (better-sqlite3) are built for the
              # ABI the CLI runs with, not for nixpkgs' default Node.
              (pkgs.pnpm_10.override { nodejs = pkgs.nodejs_20; })
              pkgs.shellcheck
              pkgs.dash
            ]
            # Containers need a Linux kernel: on macOS Carapace drives Apple Containers instead.
            ++ lib.optionals pkgs.stdenv.hostPlatform.isLinux [
              pkgs.podman
              pkgs.runc
              pkgs.pkgsStatic.busybox
            ];
        };
      });

      formatter = forSystems (linuxSystems ++ darwinSystems) (pkgs: pkgs.nixfmt-rfc-style);
    };
}
