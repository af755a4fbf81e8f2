SELECT a, 'x''y', "q\"" -- trailing
FROM `t``1` # hash
WHERE b = 0x1F AND c = b'01' /* block */;