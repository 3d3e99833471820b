#!/usr/bin/env bash
# Generates every image under resources/ from scratch with ImageMagick 6
# (Debian package "imagemagick"). Nothing is downloaded; all pictures are
# synthetic (gradients, plasma fractals, noise and vector shapes).
#
# Output is reproducible: every random source uses a fixed -seed, ImageMagick
# runs single-threaded (multi-threaded noise is not deterministic), and
# metadata/timestamp chunks are stripped.
#
# Usage (from anywhere):  bash scripts/generate-images.sh
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=resources
mkdir -p "$OUT"

command -v convert >/dev/null 2>&1 || {
  echo "error: ImageMagick 'convert' not found (apt-get install imagemagick)" >&2
  exit 1
}

# Deterministic output.
export MAGICK_THREAD_LIMIT=1
export OMP_NUM_THREADS=1
FONT=DejaVu-Sans-Bold
# -strip removes profiles/comments; the png defines also drop the
# date:create / date:modify tEXt chunks and the tIME chunk.
PNG_CLEAN=(-strip -define png:exclude-chunks=date,time)
JPG_CLEAN=(-strip -sampling-factor 4:2:0 -interlace none)

# ---------------------------------------------------------------------------
# logo.png - 320x320 rounded badge with a radial blue gradient and text.
# ---------------------------------------------------------------------------
convert -size 320x320 radial-gradient:'#60a5fa-#1e3a8a' \
  \( -size 320x320 xc:black -fill white \
     -draw 'roundrectangle 0,0 319,319 56,56' \) \
  -alpha off -compose CopyOpacity -composite -compose Over \
  -fill none -stroke 'rgba(255,255,255,0.55)' -strokewidth 6 \
  -draw 'circle 160,160 160,40' \
  -stroke none -fill white -font "$FONT" -gravity center \
  -pointsize 72 -annotate +0-18 'HTTP' \
  -pointsize 40 -fill '#fde68a' -annotate +0+48 '/1.1' \
  -depth 8 "${PNG_CLEAN[@]}" "$OUT/logo.png"

# ---------------------------------------------------------------------------
# sample_image.png - 1200x900, deliberately > 1 MiB. A plasma fractal over a
# diagonal gradient, overlaid with per-pixel noise so PNG's deflate cannot
# shrink it much. Used to exercise large-file / chunked transfers.
# ---------------------------------------------------------------------------
convert -seed 1337 -size 1200x900 plasma:'#0ea5e9-#f97316' \
  \( -size 900x1200 gradient:'#1e1b4b-#fef3c7' -rotate 90 \) \
  -compose Blend -define compose:args=55 -composite -compose Over \
  -seed 4242 -attenuate 0.6 +noise Gaussian \
  -fill white -stroke '#1e1b4b' -strokewidth 3 -font "$FONT" \
  -pointsize 64 -gravity center -annotate +0+0 'sample_image.png' \
  -depth 8 -type TrueColor "${PNG_CLEAN[@]}" "$OUT/sample_image.png"

# ---------------------------------------------------------------------------
# photo.jpg - 960x640 synthetic "landscape photo": gradient sky, a sun,
# plasma-fractal hills and a lake.
# ---------------------------------------------------------------------------
convert -size 960x640 gradient:'#7dd3fc-#fef9c3' \
  -fill '#fde047' -draw 'circle 720,170 720,120' \
  \( -seed 2024 -size 960x640 plasma:'#166534-#a3e635' -blur 0x1.5 \
     \( -size 960x640 xc:black -fill white \
        -draw 'path "M 0,400 C 160,300 300,330 420,380 S 700,280 960,360 L 960,640 L 0,640 Z"' \) \
     -alpha off -compose CopyOpacity -composite \) \
  -compose Over -composite \
  \( -seed 77 -size 960x140 plasma:'#1d4ed8-#38bdf8' -blur 0x3 \) \
  -geometry +0+500 -composite \
  -seed 99 -attenuate 0.25 +noise Gaussian \
  "${JPG_CLEAN[@]}" -quality 85 "$OUT/photo.jpg"

# ---------------------------------------------------------------------------
# peacock_feather.jpg - 600x900 stylised peacock feather: barbs radiating
# from a shaft, and the "eye" as concentric ellipses in gold/green/blue.
# ---------------------------------------------------------------------------
barbs=()
for y in $(seq 140 18 860); do
  # barbs get shorter toward the base of the feather
  len=$(( 230 - (y - 140) / 4 ))
  barbs+=(-draw "line 300,$y $((300 - len)),$((y - 70))"
          -draw "line 300,$y $((300 + len)),$((y - 70))")
done

convert -size 600x900 radial-gradient:'#14532d-#020617' \
  -stroke '#4d7c0f' -strokewidth 2 "${barbs[@]}" \
  -stroke '#a16207' -strokewidth 6 -draw 'line 300,120 300,890' \
  -stroke none \
  -fill '#b45309' -draw 'ellipse 300,290 170,215 0,360' \
  -fill '#facc15' -draw 'ellipse 300,285 140,180 0,360' \
  -fill '#15803d' -draw 'ellipse 300,280 112,148 0,360' \
  -fill '#0d9488' -draw 'ellipse 300,272 84,112 0,360' \
  -fill '#1d4ed8' -draw 'ellipse 300,262 58,80 0,360' \
  -fill '#0b1e5b' -draw 'ellipse 300,252 34,48 0,360' \
  -blur 0x1.2 \
  -seed 314 -attenuate 0.3 +noise Gaussian \
  "${JPG_CLEAN[@]}" -quality 88 "$OUT/peacock_feather.jpg"

# ---------------------------------------------------------------------------
# Verify.
# ---------------------------------------------------------------------------
for f in logo.png sample_image.png photo.jpg peacock_feather.jpg; do
  identify "$OUT/$f"
done
if command -v file >/dev/null 2>&1; then
  file "$OUT"/logo.png "$OUT"/sample_image.png "$OUT"/photo.jpg "$OUT"/peacock_feather.jpg
fi

size=$(wc -c < "$OUT/sample_image.png")
if [ "$size" -le 1048576 ]; then
  echo "error: sample_image.png is only $size bytes; it must exceed 1 MiB" >&2
  exit 1
fi
echo "sample_image.png: $size bytes (> 1 MiB, ok)"
