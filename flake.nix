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
      allSystems = linuxSystems ++ darwinSystems;
      forSystems = systems: f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      version = (builtins.fromJSON (builtins.readFile ./package.json)).version;

      # The SRI hash of the pnpm store that pnpm_10.fetchDeps downloads for pnpm-lock.yaml. Only Nix
      # can compute it (it hashes the fetched store), and the machines this flake was written on
      # cannot reach nixpkgs, so it is null until someone runs the command in docs/install.md
      # ("packages.default") and writes the hash Nix prints here. Not a made-up hash: one would
      # only fail later, in the middle of a build.
      pnpmDepsHash = null;

      notYetBuildable = throw ''
        carapace: packages.default needs the hash of its pnpm dependencies (pnpmDepsHash in flake.nix),
        which has not been computed yet. Compute it with the command in docs/install.md
        ("The Nix flake"), or install a signed release with install.sh.'';

      # The CLI from this source and pnpm-lock.yaml: compiled with tsc, production node_modules
      # with better-sqlite3 built against the Node.js the `carapace` wrapper runs.
      carapaceFor =
        pkgs: hash:
        let
          nodejs = pkgs.nodejs_20;
          pnpm = pkgs.pnpm_10.override { inherit nodejs; };
        in
        pkgs.stdenv.mkDerivation (finalAttrs: {
          pname = "carapace";
          inherit version;
          src = lib.fileset.toSource {
            root = ./.;
            fileset = lib.fileset.unions [
              ./package.json
              ./pnpm-lock.yaml
              ./tsconfig.json
              ./tsconfig.build.json
              ./src
              ./plugins
              ./images
            ];
          };
          # pnpm 10 would otherwise fetch the exact pnpm that package.json's packageManager names.
          prePnpmInstall = ''
            pnpm config set manage-package-manager-versions false
          '';
          pnpmDeps = pnpm.fetchDeps {
            inherit (finalAttrs)
              pname
              version
              src
              prePnpmInstall
              ;
            inherit hash;
          };
          nativeBuildInputs = [
            nodejs
            pnpm.configHook
            pkgs.makeWrapper
            pkgs.python3
          ];
          # node-gyp compiles better-sqlite3 against these headers instead of downloading them.
          env.npm_config_nodedir = "${nodejs}";
          buildPhase = ''
            runHook preBuild
            # pnpm.configHook installs with --ignore-scripts; this addon is the one build script
            # Carapace needs (zeromq ships prebuilt addons).
            pnpm rebuild better-sqlite3
            pnpm run build
            pnpm prune --prod
            runHook postBuild
          '';
          installPhase = ''
            runHook preInstall
            mkdir -p $out/lib/carapace $out/bin
            cp -r package.json pnpm-lock.yaml dist plugins images node_modules $out/lib/carapace/
            makeWrapper ${nodejs}/bin/node $out/bin/carapace --add-flags $out/lib/carapace/dist/cli/main.js
            runHook postInstall
          '';
          meta = {
            description = "Run an AI agent's tools in locked-down, verified containers";
            license = lib.licenses.asl20;
            mainProgram = "carapace";
            platforms = allSystems;
          };
        });

      # The base every Node plugin image shares, in the layout src/images/node-plugin-image.ts
      # writes: node at /usr/local/bin/node, code under /app, and the mount points the hardened
      # spec mounts over (a read-only root cannot create them). Add a plugin's files under /app
      # with `fromImage`, then sign and pin the result like any image (docs/trust.md).
      runtimeImageFor =
        pkgs:
        pkgs.dockerTools.buildLayeredImage {
          name = "localhost/carapace/node-runtime";
          tag = version;
          contents = [ pkgs.nodejs-slim_20 ];
          extraCommands = ''
            mkdir -p usr/local/bin app data run/carapace tmp proc sys dev
            chmod 1777 tmp
            ln -s /bin/node usr/local/bin/node
          '';
          config = {
            Entrypoint = [ "/usr/local/bin/node" ];
            WorkingDir = "/app";
            Env = [ "PATH=/usr/local/bin" ];
            Labels."org.opencontainers.image.title" = "carapace-node-runtime";
          };
        };
    in
    {
      devShells = forSystems allSystems (pkgs: {
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

      packages = forSystems allSystems (
        pkgs:
        {
          default = if pnpmDepsHash == null then notYetBuildable else carapaceFor pkgs pnpmDepsHash;
        }
        // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux { runtime-image = runtimeImageFor pkgs; }
      );

      apps = lib.genAttrs allSystems (system: {
        default = {
          type = "app";
          program = "${self.packages.${system}.default}/bin/carapace";
        };
      });

      # `lib.carapace pkgs hash`: the package with a given pnpm dependency hash, for computing the
      # real one (docs/install.md) without editing this file.
      lib.carapace = carapaceFor;

      formatter = forSystems allSystems (pkgs: pkgs.nixfmt-rfc-style);
    };
}
