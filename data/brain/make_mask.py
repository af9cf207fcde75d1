#!/usr/bin/env python3
"""Make data/brain/space-MNI152NLin2009aSym_res-3mm_desc-brain_mask.nii.gz: a whole-brain mask on a 3 mm grid of the
MNI ICBM152 2009a symmetric template, for `brainsweep simulate --fmri DIR --brain` (a real brain geometry for the
simulated voxels). Committed with this script; the simulator only reads the mask.

    pip download --no-deps nilearn==0.14.1      # its wheel ships the template's tissue maps
    pip install nibabel==5.4.2                   # in a virtual environment outside the repository
    python data/brain/make_mask.py nilearn-0.14.1-py3-none-any.whl

From the wheel's nilearn/datasets/data/mni_icbm152_{gm,wm}_tal_nlin_sym_09a_converted.nii.gz (1 mm, 197 x 233 x 189,
origin at (-98, -134, -72) mm): brain where grey + white matter probability exceeds 0.5 at 1 mm; then blocks of
3 x 3 x 3 voxels (the grid cropped to 195 x 231 x 189), in the mask where more than half of the block is. The 3 mm
voxel (I, J, K) is centred on the 1 mm voxel (3I + 1, 3J + 1, 3K + 1): x = 3I - 97, y = 3J - 133, z = 3K - 71 mm.
uint8, sform and qform code 4 (MNI152).
"""
import gzip
import io
import sys
import zipfile

import nibabel as nib
import numpy as np

DATA = "nilearn/datasets/data/mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
OUT = "data/brain/space-MNI152NLin2009aSym_res-3mm_desc-brain_mask.nii.gz"


def tissue(wheel, name):
    with zipfile.ZipFile(wheel) as z:
        raw = gzip.decompress(z.read(DATA.format(name)))
    img = nib.Nifti1Image.from_bytes(raw)
    assert img.shape == (197, 233, 189) and np.allclose(img.affine[:3, 3], [-98, -134, -72]), img.affine
    return img.get_fdata()


def main(wheel):
    brain = (tissue(wheel, "gm") + tissue(wheel, "wm")) > 0.5
    b = brain[:195, :231, :189].reshape(65, 3, 77, 3, 63, 3).mean(axis=(1, 3, 5)) > 0.5
    affine = np.array([[3, 0, 0, -97], [0, 3, 0, -133], [0, 0, 3, -71], [0, 0, 0, 1]], dtype=float)
    img = nib.Nifti1Image(b.astype(np.uint8), affine)
    img.header.set_sform(affine, code=4)
    img.header.set_qform(affine, code=4)
    img.header["descrip"] = b"MNI ICBM152 2009a sym, GM+WM>0.5, 3mm"
    raw = io.BytesIO()
    img.to_file_map({"image": nib.FileHolder(fileobj=raw), "header": nib.FileHolder(fileobj=raw)})
    with open(OUT, "wb") as f:  # gzip without a time stamp: the same bytes on every run
        f.write(gzip.compress(raw.getvalue(), mtime=0))
    print(f"{OUT}: {int(b.sum())} of {b.size} voxels in the brain (1 mm: {int(brain.sum())})")


if __name__ == "__main__":
    main(sys.argv[1])
