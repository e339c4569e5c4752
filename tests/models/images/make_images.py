#!/usr/bin/env python3
"""Writes the small images of tests/models/images and what Pillow decodes them to (test tooling only).

Each case is <name>.<ext> plus <name>.ppm: the image decoded the way ONNX's ImageDecoder reference does,
np.array(Image.open(f).convert("RGB")), stored as binary PPM. tests/unit/test_cpu_image_files.c decodes every
<name>.<ext> listed in manifest.txt and compares with <name>.ppm byte for byte.

    python3 tests/models/images/make_images.py     # needs Pillow (with libjpeg, libtiff, libwebp, openjpeg)
"""

import io
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
W, H = 17, 11  # odd sizes: partial MCUs, chroma edges, RLE/bit padding


def rgb_pattern():
    y, x = np.mgrid[0:H, 0:W]
    r = (x * 15) % 256
    g = (y * 23 + x * 3) % 256
    b = ((x * y * 7) + 40) % 256
    a = np.stack([r, g, b], axis=-1).astype(np.uint8)
    a[0, 0] = (255, 0, 0)
    a[0, 1] = (0, 255, 0)
    a[0, 2] = (0, 0, 255)
    a[1, 0] = (255, 255, 255)
    a[1, 1] = (0, 0, 0)
    return a


def save(name, ext, img, **kw):
    buf = io.BytesIO()
    img.save(buf, **kw)
    data = buf.getvalue()
    with open(os.path.join(HERE, f"{name}.{ext}"), "wb") as f:
        f.write(data)
    dec = np.array(Image.open(io.BytesIO(data)).convert("RGB"))
    hh, ww, _ = dec.shape
    with open(os.path.join(HERE, f"{name}.ppm"), "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (ww, hh) + dec.tobytes())
    return f"{name}.{ext}"


def write_png16(name, a):
    """A 16-bit RGB PNG (Pillow writes none), decoded by Pillow for the expected values."""
    import struct
    import zlib

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    hh, ww, _ = a.shape
    raw = b"".join(b"\0" + a[y].astype(">u2").tobytes() for y in range(hh))
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", ww, hh, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))

    class Raw:
        def save(self, buf, **kw):
            buf.write(data)

    return save(name, "png", Raw())


def main():
    rgb = Image.fromarray(rgb_pattern(), "RGB")
    gray = rgb.convert("L")
    rgba = rgb.copy()
    alpha = np.tile(np.arange(W, dtype=np.uint8) * 15, (H, 1))
    rgba.putalpha(Image.fromarray(alpha, "L"))
    pal = rgb.quantize(colors=13)
    files = [
        save("jpeg_420", "jpg", rgb, format="JPEG", quality=85, subsampling=2),
        save("jpeg_444_progressive", "jpg", rgb, format="JPEG", quality=92, subsampling=0, progressive=True),
        save("jpeg_gray", "jpg", gray, format="JPEG", quality=90),
        save("jpeg_cmyk", "jpg", rgb.convert("CMYK"), format="JPEG", quality=90),
        save("png_palette_trns", "png", pal, format="PNG", transparency=3),
        save("png_rgba_interlaced", "png", rgba, format="PNG", interlace=1),
        write_png16("png_rgb16", rgb_pattern().astype(np.uint16) * 257 + 77),
        save("png_gray_alpha", "png", gray.convert("LA"), format="PNG"),
        save("png_gray_1bit", "png", gray.point(lambda v: 255 if v > 100 else 0).convert("1"), format="PNG"),
        save("bmp_pal8", "bmp", pal, format="BMP"),
        save("bmp_1bit", "bmp", gray.point(lambda v: 255 if v > 100 else 0).convert("1"), format="BMP"),
        save("tiff_lzw_predictor", "tif", rgb, format="TIFF", compression="tiff_lzw", predictor=2),
        save("tiff_gray_deflate", "tif", gray, format="TIFF", compression="tiff_adobe_deflate"),
        save("tiff_jpeg", "tif", rgb, format="TIFF", compression="jpeg", quality=90),
        save("tiff_palette", "tif", pal, format="TIFF"),
        save("webp_lossy", "webp", rgb, format="WEBP", quality=80),
        save("webp_lossless_alpha", "webp", rgba, format="WEBP", lossless=True, exact=True),
        save("jp2_lossy", "jp2", rgb, format="JPEG2000", quality_mode="rates", quality_layers=[20],
             irreversible=True),
        save("j2k_lossless_gray", "j2k", gray, format="JPEG2000", no_jp2=True),
    ]
    with open(os.path.join(HERE, "manifest.txt"), "w") as f:
        f.write("# <image> decodes (pixel_format RGB) to the same-named .ppm; written by make_images.py\n")
        for name in files:
            f.write(name + "\n")


if __name__ == "__main__":
    main()
