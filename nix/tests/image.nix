# The test package set's hello as an image, built by nix/image.nix.
#   nix-build nix/tests/image.nix --arg strata ./target/debug/strata
{
  strata,
  greeting ? "hello from a strata image",
}:
let
  pkgs = import ./. { inherit greeting; };
  buildImage = import ../image.nix { inherit strata; };
in
buildImage {
  name = "hello";
  tag = "nix";
  contents = [ pkgs.hello ];
  config = {
    Cmd = [ "/bin/hello" ];
    Labels."org.example.built-by" = "strata";
  };
  maxLayers = 4;
  extraCommands = ''
    /bin/mkdir -p etc
    echo 'built by nix/image.nix' > etc/motd
  '';
}
