# A dockerTools.buildLayeredImage-style function that plans and builds the
# image with the strata CLI inside one derivation. The result is a
# docker-archive (`docker load -i result`, `podman load -i result`).
#
#   let buildImage = import ./nix/image.nix { strata = ./target/release/strata; };
#   in buildImage { name = "hello"; contents = [ hello ]; config.Cmd = [ "/bin/hello" ]; }
#
# `strata` is the binary (a path: it is copied into the store, so a new
# binary makes a new derivation). Builders here run without nixpkgs: the
# script uses absolute paths, and `extraCommands` should too.
{
  strata,
  system ? builtins.currentSystem,
}:
{
  # Image name.
  name,
  # Image tag; null: derived from the content (the config digest).
  tag ? null,
  # Store paths in the image; their bin, etc, lib, share are linked into /.
  contents ? [ ],
  # The execution config, PascalCase keys as in dockerTools (Cmd, Env,
  # Entrypoint, WorkingDir, User, ExposedPorts, Labels, Volumes).
  config ? { },
  # Most layers in the image, the customisation layer included.
  maxLayers ? 100,
  # nixpkgs' layeringPipeline (a list); it implies algorithm = "pipeline".
  pipeline ? null,
  # auto, fleet, popularity, nixery or pipeline; default: "pipeline" when a
  # pipeline is given, else null: strata's own default (`strata plan --help`).
  algorithm ? if pipeline == null then null else "pipeline",
  # Shell commands run in the directory that becomes the top layer's /.
  extraCommands ? "",
  # gzip, zstd or none.
  compression ? "gzip",
  # RFC 3339, or "now"; null: 1970-01-01T00:00:01Z.
  created ? null,
  # Link the contents' bin, etc, lib, share into /.
  links ? true,
  # Nix's database of the image's store paths in /nix/var/nix/db (one more
  # layer, counted in maxLayers), as dockerTools' includeNixDB; reproducible.
  includeNixDB ? false,
  # Owner and mode rules, as nix2container's perms: a list of
  # { path (a store path or any absolute path), regex, glob, mode ("0755"),
  #   uid, gid, uname, gname }. A rule matching nothing fails the build.
  perms ? [ ],
  # Users for /etc/passwd and /etc/group, each with a home /home/NAME it
  # owns: [ { name = "app"; uid = 1000; gid = 100; } ]; then
  # config.User = "app".
  users ? [ ],
  # GOARCH of the image config; null: the build machine's.
  architecture ? null,
}:
assert maxLayers >= (if includeNixDB then 3 else 2);
derivation {
  name = "${name}.tar";
  inherit system strata;
  __structuredAttrs = true;
  exportReferencesGraph.graph = contents;
  # Under this key strata's --config reads the execution config.
  config = config;
  imageName = name;
  imageTag = if tag == null then "" else tag;
  budget = maxLayers - 1 - (if includeNixDB then 1 else 0);
  algorithm = if algorithm == null then "" else algorithm;
  inherit compression extraCommands;
  pipelineJson = if pipeline == null then "" else builtins.toJSON pipeline;
  createdAt = if created == null then "" else created;
  linkContents = links;
  nixDb = includeNixDB;
  permsJson = if perms == [ ] then "" else builtins.toJSON perms;
  createUsers = map (u: "${u.name}:${toString u.uid}:${toString u.gid}") users;
  arch = if architecture == null then "" else architecture;
  builder = "/bin/bash";
  args = [
    "-c"
    ''
      source .attrs.sh
      set -eu
      /bin/mkdir extra
      (cd extra && eval "$extraCommands")
      flags=(--budget "$budget" --compression "$compression"
             --config .attrs.json --name "$imageName" --cache "$PWD/cache" --extra extra
             --no-progress)
      [ -n "$algorithm" ] && flags+=(--algorithm "$algorithm")
      [ -n "$imageTag" ] && flags+=(--tag "$imageTag")
      [ -n "$pipelineJson" ] && flags+=(--pipeline "$pipelineJson")
      [ -n "$createdAt" ] && flags+=(--created "$createdAt")
      [ "$linkContents" = 1 ] && flags+=(--links)
      [ "$nixDb" = 1 ] && flags+=(--nix-db)
      [ -n "$arch" ] && flags+=(--arch "$arch")
      if [ -n "$permsJson" ]; then
        printf '%s' "$permsJson" > perms.json
        flags+=(--perms perms.json)
      fi
      for user in "''${createUsers[@]}"; do flags+=(--create-user "$user"); done
      "$strata" build .attrs.json "''${flags[@]}" -o "''${outputs[out]}"
      exit 0
    ''
  ];
}
