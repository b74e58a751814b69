"""One Markdown row of scripts/attack_table.sh from an `advseg attack` report.json.

Usage: attack_table_row.py REPORT MODEL EPS LOSS
"""
import json
import sys

r = json.load(open(sys.argv[1]))
o = r["overall"]
print(f"| {sys.argv[2]} | {sys.argv[3]}/255 | {sys.argv[4]} | {o['clean']['vs_ground_truth']['miou']:.4f} "
      f"| {o['adversarial']['vs_ground_truth']['miou']:.4f} | {o['quantized']['vs_ground_truth']['miou']:.4f} "
      f"| {o['adversarial']['vs_clean']['agreement']:.4f} | {o['adversarial']['psnr']:.2f} | {r['seconds']:.0f} |")
