# A small self-contained package set for strata's tests: raw derivations
# (builder /bin/sh, absolute tool paths; no nixpkgs offline) that
# reference each other, one of them a real program (Debian's static
# busybox copied into the store).
#
#   greeting-data  <- libgreet <- hello -> busybox
{
  system ? builtins.currentSystem,
  # Debian's busybox-static.
  busyboxBinary ? /bin/busybox,
  # Changes greeting-data (and so everything above it) when set.
  greeting ? "hello from a strata image",
}:
let
  mk =
    name: script:
    derivation {
      inherit name system;
      builder = "/bin/sh";
      args = [
        "-c"
        ''
          set -e
          ${script}
        ''
      ];
    };
in
rec {
  busybox = mk "busybox-static-1.35" ''
    /bin/mkdir -p $out/bin
    /bin/cp ${busyboxBinary} $out/bin/busybox
    /bin/chmod 555 $out/bin/busybox
    for tool in sh echo cat ls; do /bin/ln -s busybox $out/bin/$tool; done
  '';

  greeting-data = mk "greeting-data-1.0" ''
    /bin/mkdir -p $out/share/greeting/a-rather-long-directory-name-to-push-paths/past-the-hundred-byte-tar-name-field
    echo '${greeting}' > $out/share/greeting/message
    echo long > $out/share/greeting/a-rather-long-directory-name-to-push-paths/past-the-hundred-byte-tar-name-field/file-with-a-long-name.txt
    /bin/ln $out/share/greeting/message $out/share/greeting/message.hardlink
    /bin/ln -s message $out/share/greeting/message.symlink
  '';

  libgreet = mk "libgreet-1.0" ''
    /bin/mkdir -p $out/lib
    echo 'greet() { cat ${greeting-data}/share/greeting/message; }' > $out/lib/greet.sh
  '';

  hello = mk "hello-1.0" ''
    /bin/mkdir -p $out/bin
    printf '#!${busybox}/bin/sh\n. ${libgreet}/lib/greet.sh\ngreet\n' > $out/bin/hello
    /bin/chmod 555 $out/bin/hello
  '';
}
