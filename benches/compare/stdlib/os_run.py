# 200 subprocess.run(["true"]) on ThreadPoolExecutor(2).
import subprocess
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(2) as ex:
    codes = list(ex.map(lambda i: subprocess.run(["true"], capture_output=True).returncode, range(200)))
print(sum(codes), len(codes))
