#!/usr/bin/env bash
# Stages what the GPU machine lacks for the CUDA-only build (GoogleTest) into
# gpu-deps/ at the repository root, for the device call to carry:
#   tools/gpu/stage-deps.sh        (here, once per session)
#   run(command="bash tools/gpu/device-run.sh", carry=["gpu-deps"])
# gpu-deps/ mirrors Debian's /usr layout (include/, lib/x86_64-linux-gnu/),
# because Debian's GTestConfig.cmake finds its files four directories above
# itself (lib/x86_64-linux-gnu/cmake/GTest -> prefix), so the copy relocates
# as a whole: cmake -DGTest_ROOT=$PWD/gpu-deps (or GTest_DIR= the cmake/GTest
# folder inside). Links are copied as the files they point to, since the
# device call carries a link only as a link.
set -euo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
dest="$root/gpu-deps"
arch=x86_64-linux-gnu
src_lib=/usr/lib/$arch

for f in /usr/include/gtest/gtest.h /usr/include/gmock/gmock.h \
         "$src_lib/libgtest.a" "$src_lib/libgtest_main.a" \
         "$src_lib/cmake/GTest/GTestConfig.cmake"; do
  if [[ ! -e $f ]]; then
    echo "stage-deps: missing $f (apt-get install libgtest-dev libgmock-dev)" >&2
    exit 1
  fi
done

rm -rf "$dest"
mkdir -p "$dest/include" "$dest/lib/$arch/cmake"
cp -RL /usr/include/gtest /usr/include/gmock "$dest/include/"
cp -L "$src_lib"/libgtest*.a "$src_lib"/libgmock*.a "$dest/lib/$arch/"
cp -RL "$src_lib/cmake/GTest" "$dest/lib/$arch/cmake/"

# The config's prefix must come out as gpu-deps, not /usr.
grep -q 'CMAKE_CURRENT_LIST_DIR}/../../../../' \
  "$dest/lib/$arch/cmake/GTest/GTestConfig.cmake" || {
  echo "stage-deps: GTestConfig.cmake no longer computes its prefix four" \
       "levels up; check gpu-deps before carrying it" >&2
  exit 1
}

echo "stage-deps: $(du -sh "$dest" | cut -f1) in $dest"
echo "stage-deps: carry [\"gpu-deps\"]; configure with -DGTest_ROOT=\$PWD/gpu-deps"
